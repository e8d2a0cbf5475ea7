"""Account test helpers: users through the real services, sign-in through the real form."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.services import register_user
from app.extensions import db
from app.notifications.models import Notification

PASSWORD = "correct horse battery staple"


def make_user(
    email: str = "ada@example.com",
    *,
    name: str = "Ada Lovelace",
    password: str = PASSWORD,
    role: str = "customer",
    verified: bool = True,
) -> User:
    user = register_user(name, email, password, role=role, verified=verified)
    db.session.flush()
    return user


def csrf_token(client, path: str = "/account/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html
    )
    return match.group(1)


def login(client, email: str = "ada@example.com", password: str = PASSWORD, **extra):
    data = {"email": email, "password": password, "csrf_token": csrf_token(client), **extra}
    return client.post("/account/login", data=data)


def delete_account(client, password: str = PASSWORD):
    """The signed-in shopper deletes their account, as the form asks (password, confirm)."""
    token = csrf_token(client, "/account/delete")
    data = {"current_password": password, "confirm": "y", "csrf_token": token}
    return client.post("/account/delete", data=data)


def latest_link(to: str, template: str) -> str:
    """The link in the newest notification of a template (as the email would carry it)."""
    row = (
        db.session.execute(
            sa.select(Notification)
            .where(Notification.to_address == to, Notification.template == template)
            .order_by(Notification.id.desc())
        )
        .scalars()
        .first()
    )
    assert row is not None, f"no {template} notification to {to}"
    for key in ("verify_url", "reset_url"):
        if key in row.variables:
            return urlsplit(row.variables[key]).path
    raise AssertionError("no link in the notification")
