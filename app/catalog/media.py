"""Serving stored product images, and the ``image_url`` template helper.

Rendition keys are random and immutable, so responses may be cached for a year. With a
public S3 bucket (``S3_PUBLIC_URL``) pages link to the bucket and this route is a fallback;
otherwise the app reads the file from storage and serves it here.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, cast

from flask import Response, abort, request

from app.catalog import bp
from app.catalog.images import FORMATS, SIZES, rendition_key
from app.extensions import limiter
from app.file_storage import CACHE_CONTROL_IMMUTABLE, get_storage

log = logging.getLogger(__name__)

MEDIA_TYPES = {"webp": "image/webp", "jpg": "image/jpeg", "jpeg": "image/jpeg"}


@bp.get("/media/<path:key>")
@limiter.exempt  # like static files: a listing page asks for one image per product
def media(key: str) -> Response:
    ext = key.rpartition(".")[2].lower() if "." in key else ""
    mimetype = MEDIA_TYPES.get(ext)
    if mimetype is None:
        abort(404)
    try:
        data = get_storage().read(key)
    except (FileNotFoundError, ValueError):  # missing, or not a valid key at all
        abort(404)
    except OSError:
        log.warning("media storage unavailable reading %s", key, exc_info=True)
        abort(503)
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = CACHE_CONTROL_IMMUTABLE
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    return cast(Response, response.make_conditional(request))  # it returns the response itself


def _normalise(size: str, ext: str) -> tuple[str, str]:
    ext = "jpg" if ext == "jpeg" else ext
    if size not in SIZES or ext not in FORMATS:
        raise ValueError(f"unknown image rendition {size!r}/{ext!r}")
    return size, ext


@bp.app_template_global("image_url")
def image_url(image: Any, size: str = "medium", ext: str = "webp") -> str:
    """URL of one rendition of a ProductImage: ``size`` thumb/medium/large, ``ext`` webp/jpg."""
    size, ext = _normalise(size, ext)
    return get_storage().url(rendition_key(image.storage_key, size, ext))


@bp.app_template_global("image_srcset")
def image_srcset(image: Any, ext: str = "webp") -> str:
    """A ``srcset`` value listing every size, with the width each rendition really has."""
    storage = get_storage()
    parts: dict[int, str] = {}  # small originals give equal widths; list each width once
    for size, max_width in sorted(SIZES.items(), key=lambda item: item[1]):
        size, ext = _normalise(size, ext)
        width = min(max_width, image.width)
        if width not in parts:
            parts[width] = f"{storage.url(rendition_key(image.storage_key, size, ext))} {width}w"
    return ", ".join(parts.values())
