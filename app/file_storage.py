"""Binary file storage behind one small interface: local files or an S3-compatible bucket.

Keys are relative, slash-separated names made only of ``A-Za-z0-9/_.-`` (no ``..``, no empty
or hidden segments, no absolute paths), so a key can never name a file outside the storage.
Stored files are immutable: a changed file gets a new key, so URLs may be cached for a year.

The backend comes from configuration (``STORAGE_BACKEND``: ``local`` or ``s3``) and is built
once per app by :func:`get_storage`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

from flask import current_app, url_for

from app.config import ConfigError

CACHE_CONTROL_IMMUTABLE = "public, max-age=31536000, immutable"
MAX_KEY_LENGTH = 512
_KEY_CHARS = re.compile(r"[A-Za-z0-9/_.-]+")
_EXTENSION_KEY = "shop_storage"
_EXTENSION_LOCK = threading.Lock()


class InvalidKey(ValueError):
    """The key is not a safe storage key (path traversal, odd characters, too long)."""


class StorageError(OSError):
    """The storage backend failed (network, permissions); the file may well exist."""


class Storage(Protocol):
    def save(self, key: str, data: bytes, content_type: str) -> None: ...

    def read(self, key: str) -> bytes:
        """The file's bytes; raises FileNotFoundError when there is no such file."""
        ...

    def delete(self, key: str) -> None:
        """Remove the file; deleting a missing file is not an error."""
        ...

    def url(self, key: str) -> str:
        """A URL for pages (absolute for a public bucket, else the app's media route)."""
        ...


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe storage key, else raise :class:`InvalidKey`."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidKey("storage keys must be 1-512 characters")
    if not _KEY_CHARS.fullmatch(key):
        raise InvalidKey("storage keys may only contain A-Z a-z 0-9 / _ . -")
    for segment in key.split("/"):
        # Empty segments ("a//b", "/abs", "dir/") and hidden names (".", "..", ".tmp-…",
        # which is how temporary files are named) are never valid keys.
        if not segment or segment.startswith("."):
            raise InvalidKey("storage keys must be relative paths without '.' segments")
    return key


class LocalStorage:
    """Files under ``root``; written atomically (temporary file, then ``os.replace``)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        validate_key(key)
        path = self.root / key
        # Belt and braces: the key rules already keep paths inside the root.
        root = self.root.resolve()
        if not path.resolve().is_relative_to(root):
            raise InvalidKey("storage key points outside the storage root")
        return path

    def save(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp_name, 0o644)  # mkstemp creates 0600; a web server may serve these
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise

    def read(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path.read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def url(self, key: str) -> str:
        return url_for("catalog.media", key=validate_key(key))

    def __repr__(self) -> str:
        return f"<LocalStorage {self.root}>"


class S3Storage:
    """An S3-compatible bucket (AWS, MinIO, R2, ...), with short timeouts and few retries.

    Without ``public_url`` the bucket may stay private: pages link to the app's media
    route, which reads through this class.
    """

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        public_url: str | None = None,
    ) -> None:
        if not bucket:
            raise ConfigError("S3_BUCKET must be set when STORAGE_BACKEND is s3")
        if importlib.util.find_spec("boto3") is None:
            raise ConfigError(
                "STORAGE_BACKEND is s3 but boto3 is not installed: pip install 'shopsphere[s3]'"
            )
        self.bucket = bucket
        self.endpoint_url = endpoint_url or None
        self.region = region or None
        self.public_url = public_url.rstrip("/") if public_url else None
        self._credentials = {
            "aws_access_key_id": access_key_id or None,
            "aws_secret_access_key": secret_access_key or None,
        }
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The boto3 client, created on first use (boto3 clients are thread-safe)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3
                    from botocore.config import Config

                    config = Config(
                        connect_timeout=5,
                        read_timeout=5,
                        retries={"max_attempts": 2, "mode": "standard"},
                    )
                    session = boto3.session.Session()
                    self._client = session.client(
                        "s3",
                        endpoint_url=self.endpoint_url,
                        region_name=self.region,
                        config=config,
                        **self._credentials,
                    )
        return self._client

    def save(self, key: str, data: bytes, content_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=validate_key(key),
                Body=data,
                ContentType=content_type,
                CacheControl=CACHE_CONTROL_IMMUTABLE,
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"saving {key} to S3 failed: {exc}") from exc

    def read(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=validate_key(key))
            return response["Body"].read()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in {"NoSuchKey", "404", "NotFound"}:
                raise FileNotFoundError(key) from exc
            raise StorageError(f"reading {key} from S3 failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"reading {key} from S3 failed: {exc}") from exc

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            # S3 answers 204 whether or not the object existed.
            self.client.delete_object(Bucket=self.bucket, Key=validate_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"deleting {key} from S3 failed: {exc}") from exc

    def url(self, key: str) -> str:
        validate_key(key)
        if self.public_url:
            return f"{self.public_url}/{key}"
        return url_for("catalog.media", key=key)

    def __repr__(self) -> str:
        return f"<S3Storage {self.bucket}>"


def storage_from_config(config: Any) -> Storage:
    """Build the configured backend (see ``STORAGE_BACKEND`` and friends in the README)."""
    backend = str(config.get("STORAGE_BACKEND") or "local").strip().lower()
    if backend == "local":
        root = config.get("MEDIA_ROOT") or Path(config["INSTANCE_DIR"]) / "media"
        return LocalStorage(Path(root))
    if backend == "s3":
        return S3Storage(
            bucket=config.get("S3_BUCKET") or "",
            endpoint_url=config.get("S3_ENDPOINT_URL"),
            region=config.get("S3_REGION"),
            access_key_id=config.get("S3_ACCESS_KEY_ID"),
            secret_access_key=config.get("S3_SECRET_ACCESS_KEY"),
            public_url=config.get("S3_PUBLIC_URL"),
        )
    raise ConfigError(f"STORAGE_BACKEND must be 'local' or 's3', got {backend!r}")


def get_storage() -> Storage:
    """The current app's storage, built once and kept in ``app.extensions``."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    storage = app.extensions.get(_EXTENSION_KEY)
    if storage is None:
        with _EXTENSION_LOCK:
            storage = app.extensions.get(_EXTENSION_KEY)
            if storage is None:
                storage = storage_from_config(app.config)
                app.extensions[_EXTENSION_KEY] = storage
    return storage
