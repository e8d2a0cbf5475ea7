"""Opaque list cursors: a small JSON object of integers, base64url-encoded. Each resource
decides what the integers mean and their ranges; a forged or damaged cursor is a CursorError
(the caller answers 400), never a query with a value the database cannot hold."""

from __future__ import annotations

import base64
import binascii
import json
from typing import cast


class CursorError(ValueError):
    pass


def encode(**fields: int) -> str:
    raw = json.dumps(fields, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, *names: str) -> tuple[int, ...]:
    """The integers ``names`` from a cursor made by :func:`encode`, in that order."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CursorError("malformed") from exc
    if not isinstance(data, dict):
        raise CursorError("malformed")
    values = tuple(data.get(name) for name in names)
    if any(type(value) is not int for value in values):
        raise CursorError("malformed")
    return cast(tuple[int, ...], values)  # every value was just checked to be an int
