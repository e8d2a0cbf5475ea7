"""Profile pictures through the product images' pipeline: re-encoded square, metadata gone,
size-limited, served like product images; replaced, removed and deleted with the account."""

from __future__ import annotations

import io
import re

import sqlalchemy as sa
from PIL import Image

from app.accounts.models import AuditEvent, User
from app.catalog.images import rendition_keys
from app.db import commit_unit_of_work
from app.extensions import db as _db
from app.file_storage import get_storage
from tests.accounts.helpers import csrf_token, delete_account, login, make_user
from tests.catalog.test_images import jpeg_bytes, jpeg_with_gps_exif

SRC = re.compile(r'<img src="(/media/people/[^"]+)" alt="Your profile picture"')


def upload(client, data: bytes, filename: str = "me.jpg"):
    return client.post(
        "/account/profile/picture",
        data={
            "csrf_token": csrf_token(client, "/account/profile"),
            "picture": (io.BytesIO(data), filename),
        },
        content_type="multipart/form-data",
    )


def me() -> User:
    _db.session.expire_all()
    return _db.session.execute(sa.select(User).where(User.email == "ada@example.com")).scalar_one()


def stored(key: str) -> bool:
    try:
        get_storage().read(key)
    except FileNotFoundError:
        return False
    return True


def signed_in(client) -> None:
    make_user("ada@example.com")
    commit_unit_of_work()
    assert login(client).status_code == 302


def test_a_picture_is_reencoded_square_and_served_like_product_images(client, db):
    signed_in(client)
    response = upload(client, jpeg_with_gps_exif())
    assert response.status_code == 303
    html = client.get("/account/profile").get_data(as_text=True)
    assert "Your profile picture was changed." in html
    src = SRC.search(html).group(1)
    assert src.endswith("-medium.webp")
    served = client.get(src)
    assert served.status_code == 200 and served.mimetype == "image/webp"
    assert "immutable" in served.headers["Cache-Control"]
    picture = Image.open(io.BytesIO(served.get_data()))
    assert picture.width == picture.height  # cropped to its centre square
    thumb = Image.open(io.BytesIO(get_storage().read(me().picture_key + "-thumb.jpg")))
    assert thumb.size == (240, 240)
    assert not thumb.getexif() and "icc_profile" not in thumb.info and "comment" not in thumb.info
    assert [a.action for a in _db.session.execute(sa.select(AuditEvent)).scalars()][
        -1
    ] == "profile.picture_changed"


def test_refused_uploads_say_why_and_change_nothing(client, db, app, monkeypatch):
    signed_in(client)
    monkeypatch.setitem(app.config, "MAX_PICTURE_BYTES", 50_000)
    too_big = upload(client, jpeg_bytes((2000, 2000), quality=100))
    assert too_big.status_code == 422
    assert "Images must be 49 KB or smaller." in too_big.get_data(as_text=True)
    not_image = upload(client, b"<script>alert(1)</script>", "x.jpg")
    assert not_image.status_code == 422
    assert "That file is not an image we can read" in not_image.get_data(as_text=True)
    nothing = client.post(
        "/account/profile/picture",
        data={"csrf_token": csrf_token(client, "/account/profile")},
        content_type="multipart/form-data",
    )
    assert nothing.status_code == 422
    assert "Choose a picture to upload" in nothing.get_data(as_text=True)
    assert me().picture_key == ""


def test_replacing_removing_and_deleting_the_account_delete_the_files(client, db):
    signed_in(client)
    upload(client, jpeg_bytes((300, 500), color="blue"))
    first = me().picture_key
    upload(client, jpeg_bytes((500, 300), color="green"))
    second = me().picture_key
    assert second != first
    for key in rendition_keys(first):
        assert not stored(key), key
    assert all(stored(key) for key in rendition_keys(second))

    token = csrf_token(client, "/account/profile")
    removed = client.post("/account/profile/picture/remove", data={"csrf_token": token})
    assert removed.status_code == 303 and me().picture_key == ""
    assert not any(stored(key) for key in rendition_keys(second))
    assert "You have no profile picture." in client.get("/account/profile").get_data(as_text=True)

    upload(client, jpeg_bytes((300, 300)))
    third = me().picture_key
    delete_account(client)
    assert not any(stored(key) for key in rendition_keys(third))


def test_no_transaction_is_open_while_the_picture_is_processed(client, db, monkeypatch):
    """On SQLite a form post's transaction holds the database's one write lock: Pay and every
    other writer would wait for Pillow and the upload."""
    from app.accounts import pictures

    seen: list[bool] = []
    real = pictures.process_image

    def watched(*args, **kwargs):
        seen.append(_db.session().in_transaction())
        return real(*args, **kwargs)

    monkeypatch.setattr(pictures, "process_image", watched)
    signed_in(client)
    assert upload(client, jpeg_bytes((400, 400))).status_code == 303
    assert seen == [False]


def _watch_saves(monkeypatch, *, fail_at: int | None = None) -> list[str]:
    """The storage keys written from now on; ``fail_at``: that write fails (S3 down)."""
    from app.file_storage import LocalStorage, StorageError

    saved: list[str] = []
    real = LocalStorage.save

    def save(self, key, data, content_type):
        if fail_at is not None and len(saved) + 1 == fail_at:
            raise StorageError("the bucket did not answer")
        real(self, key, data, content_type)
        saved.append(key)

    monkeypatch.setattr(LocalStorage, "save", save)
    return saved


def test_a_picture_that_cannot_all_be_stored_leaves_no_files_and_says_so(client, db, monkeypatch):
    signed_in(client)
    saved = _watch_saves(monkeypatch, fail_at=3)
    response = upload(client, jpeg_bytes((400, 400)))
    assert response.status_code == 422
    assert "could not be stored just now" in response.get_data(as_text=True)
    assert len(saved) == 2 and not any(stored(key) for key in saved)
    assert me().picture_key == ""


def test_a_picture_whose_change_never_commits_leaves_no_files(client, db, monkeypatch):
    from app.accounts import pictures

    signed_in(client)
    saved = _watch_saves(monkeypatch)

    def fails(*args, **kwargs):
        raise RuntimeError("the audit row could not be written")

    monkeypatch.setattr(pictures, "audit", fails)
    assert upload(client, jpeg_bytes((400, 400))).status_code == 500
    assert saved and not any(stored(key) for key in saved)
    assert me().picture_key == ""
