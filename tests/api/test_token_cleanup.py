"""Refresh-token clean-up: rows expired or revoked long ago go; everything still meaningful
stays (live tokens, spent ones that can still reveal reuse, recent revocations)."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.api.models import ApiToken
from app.api.tasks import purge_stale_refresh_tokens
from app.api.tokens import delete_stale_refresh_tokens, hash_token
from app.db import utcnow
from app.extensions import db as _db
from tests.accounts.helpers import make_user
from tests.api.helpers import bearer, tokens


def token_row(user_id: int, *, age_days: float, **fields) -> ApiToken:
    created = utcnow() - timedelta(days=age_days)
    row = ApiToken(
        user_id=user_id,
        family_id=secrets.token_hex(16),
        token_hash=hash_token(secrets.token_urlsafe(16)),
        created_at=created,
        expires_at=created + timedelta(days=7),
        **fields,
    )
    _db.session.add(row)
    _db.session.flush()
    return row


def remaining_ids() -> set[int]:
    _db.session.expire_all()
    return set(_db.session.execute(sa.select(ApiToken.id)).scalars())


@pytest.fixture
def rows(db):
    user = make_user()
    now = utcnow()
    return {
        "live": token_row(user.id, age_days=1),
        "spent_live": token_row(user.id, age_days=2, used_at=now - timedelta(days=1)),
        "expired_recently": token_row(user.id, age_days=20),  # expired 13 days ago
        "expired_long_ago": token_row(user.id, age_days=40),  # expired 33 days ago
        "spent_expired_long_ago": token_row(user.id, age_days=60, used_at=now - timedelta(days=59)),
        "revoked_recently": token_row(user.id, age_days=3, revoked_at=now - timedelta(days=2)),
        "revoked_long_ago": token_row(user.id, age_days=36, revoked_at=now - timedelta(days=31)),
    }


def test_deletes_only_rows_expired_or_revoked_before_the_retention(rows):
    assert delete_stale_refresh_tokens(30) == 3
    gone = {"expired_long_ago", "spent_expired_long_ago", "revoked_long_ago"}
    assert remaining_ids() == {row.id for name, row in rows.items() if name not in gone}
    assert delete_stale_refresh_tokens(30) == 0  # idempotent


def test_works_in_batches(rows):
    assert delete_stale_refresh_tokens(30, batch_size=2) == 2
    assert delete_stale_refresh_tokens(30, batch_size=2) == 1
    assert len(remaining_ids()) == 4


def test_a_shorter_retention_deletes_more(rows):
    assert delete_stale_refresh_tokens(1) == 5  # everything but the live and the spent-live one
    assert remaining_ids() == {rows["live"].id, rows["spent_live"].id}


def test_retention_must_outlive_access_tokens(db):
    with pytest.raises(ValueError, match="at least a day"):
        delete_stale_refresh_tokens(0)


def test_a_recent_revocation_still_holds_after_the_clean_up(client, db):
    """Access tokens are refused through their family's revoked rows: those must survive."""
    make_user()
    pair = tokens(client)
    assert (
        client.post(
            "/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]}
        ).status_code
        == 204
    )
    delete_stale_refresh_tokens(1)
    assert client.get("/api/v1/me", headers=bearer(pair["access_token"])).status_code == 401
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 401


def test_the_periodic_task_uses_the_configured_retention(app, rows, monkeypatch):
    monkeypatch.setitem(app.config, "API_TOKEN_RETENTION_DAYS", 30)
    monkeypatch.setattr("app.api.tasks.BATCH", 2)  # several batches, each its own transaction
    assert purge_stale_refresh_tokens.call_local() == 3
    assert len(remaining_ids()) == 4
    monkeypatch.setitem(app.config, "API_TOKEN_RETENTION_DAYS", 1)
    assert purge_stale_refresh_tokens.call_local() == 2
    assert remaining_ids() == {rows["live"].id, rows["spent_live"].id}
