"""Profile pictures through the product images' pipeline (app/catalog/images.py): the upload
is decoded and re-encoded (no metadata, no appended bytes, no decompression bombs), cropped
to a square, size-limited (``MAX_PICTURE_BYTES``), stored under an unguessable key and served
by /media/ with the product images' headers. Replacing or removing a picture, or deleting the
account, deletes the old files once the change has committed; a new picture whose change
never commits (or whose files could not all be stored) has its files deleted again. Audited."""

from __future__ import annotations

import secrets
from functools import partial

from flask import current_app

from app.accounts.audit import audit
from app.accounts.models import User
from app.catalog.images import (
    FORMATS,
    ImageRejected,
    delete_renditions,
    process_image,
    rendition_key,
    save_undone_on_rollback,
)
from app.db import after_commit, commit_point
from app.extensions import db
from app.file_storage import get_storage

__all__ = ["ImageRejected", "picture_url", "remove_picture", "set_picture"]


def set_picture(user: User, data: bytes) -> None:
    """Decode, re-encode and store with no transaction open (a form post on SQLite would
    otherwise hold the database's write lock while Pillow works and the files upload), then
    point the account at the new files in a short write."""
    commit_point("picture-upload")  # the work so far stands; nothing is locked meanwhile
    processed = process_image(data, max_bytes=current_app.config["MAX_PICTURE_BYTES"], square=True)
    storage = get_storage()
    key = f"people/{secrets.token_urlsafe(12).replace('-', '_')}-{processed.content_hash[:12]}"
    for (size, ext), body in processed.renditions.items():  # gone again if never used
        save_undone_on_rollback(storage, rendition_key(key, size, ext), body, FORMATS[ext][1])
    _forget_after_commit(user.picture_key)
    user.picture_key = key
    db.session.flush()
    audit("profile.picture_changed", actor_id=user.id, target_user_id=user.id)


def remove_picture(user: User, *, audit_it: bool = True) -> bool:
    if not user.picture_key:
        return False
    _forget_after_commit(user.picture_key)
    user.picture_key = ""
    db.session.flush()
    if audit_it:
        audit("profile.picture_removed", actor_id=user.id, target_user_id=user.id)
    return True


def _forget_after_commit(key: str) -> None:
    if not key:
        return
    after_commit(partial(delete_renditions, get_storage(), key))


def picture_url(user: User, size: str = "thumb", ext: str = "webp") -> str:
    """The picture's URL (``""`` without one)."""
    if not user.picture_key:
        return ""
    return get_storage().url(rendition_key(user.picture_key, size, ext))
