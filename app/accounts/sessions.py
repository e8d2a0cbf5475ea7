"""Server-side sessions: the signed cookie carries only a random session id.

Logging out revokes the row, so a copy of the cookie taken before logout is useless; idle
and absolute timeouts are enforced here; a password change or reset ends other sessions.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, has_request_context, request

from app.accounts.audit import audit
from app.accounts.models import User, UserSession
from app.db import affected, utcnow
from app.extensions import db

LAST_SEEN_RESOLUTION = timedelta(minutes=1)  # avoid a write on every request


def start_session(user: User, *, remember: bool, second_factor: bool) -> UserSession:
    cfg = current_app.config
    now = utcnow()
    if remember:
        lifetime = timedelta(days=cfg["REMEMBER_DAYS"])
        idle = lifetime
    else:
        lifetime = timedelta(hours=cfg["SESSION_ABSOLUTE_HOURS"])
        idle = timedelta(minutes=cfg["SESSION_IDLE_MINUTES"])
    row = UserSession(
        public_id=secrets.token_urlsafe(32),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        idle_timeout_seconds=int(idle.total_seconds()),
        second_factor_at=now if second_factor else None,
    )
    if has_request_context():
        row.ip_address = (request.remote_addr or "")[:64]
        row.user_agent = request.headers.get("User-Agent", "")[:255]
    db.session.add(row)
    db.session.flush()
    user.current_session = row
    return row


def load_user(public_id: str) -> User | None:
    """Flask-Login's loader: a valid, unexpired, unrevoked session of an active user."""
    if not public_id or len(public_id) > 64:
        return None
    row = db.session.execute(
        sa.select(UserSession).where(UserSession.public_id == public_id)
    ).scalar_one_or_none()
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.last_seen_at + timedelta(seconds=row.idle_timeout_seconds) <= now:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if now - row.last_seen_at > LAST_SEEN_RESOLUTION:
        row.last_seen_at = now
    user.current_session = row
    return user


def revoke(row: UserSession) -> None:
    row.revoked_at = utcnow()
    db.session.flush()


def revoke_all(user_id: int, *, except_id: int | None = None) -> int:
    """End every web session of the user (but ``except_id``) and all API token families."""
    query = sa.update(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if except_id is not None:
        query = query.where(UserSession.id != except_id)
    result = affected(
        query.values(revoked_at=utcnow()).execution_options(synchronize_session=False)
    )
    from app.accounts.sign_in_links import retire_sign_in_links
    from app.api.tokens import revoke_all_for_user

    revoke_all_for_user(user_id)  # the mobile app's tokens are sessions too
    retire_sign_in_links(user_id)  # and a link on its way would be a way back in
    return result


def list_active_sessions(user_id: int) -> list[UserSession]:
    now = utcnow()
    return list(
        db.session.execute(
            sa.select(UserSession)
            .where(
                UserSession.user_id == user_id,
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > now,
            )
            .order_by(UserSession.last_seen_at.desc())
        ).scalars()
    )


def sign_out(user: User) -> None:
    """The user ends this sign-in (the website's Sign out): the session row is revoked and the
    audit log says so; the caller clears the browser's cookie."""
    if user.current_session is not None:
        revoke(user.current_session)
    audit("logout", actor_id=user.id, target_user_id=user.id)


def sign_out_everywhere(user: User) -> int:
    """Every web session and API token of the user ends (audited); how many sessions did."""
    count = revoke_all(user.id)
    audit("logout.all", actor_id=user.id, target_user_id=user.id, detail=f"{count} sessions")
    return count
