"""Signing staff in for admin tests: a user with a role and TOTP enrolled, through the real
login and two-factor pages, plus reading CSRF tokens from pages."""

from __future__ import annotations

import re

import pyotp

from app.db import commit_unit_of_work, utcnow
from tests.accounts.helpers import login, make_user

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_CSRF_ANY = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def enrolled(email: str, role: str):
    user = make_user(email, role=role)
    user.totp_secret = pyotp.random_base32()
    user.totp_enabled_at = utcnow()
    commit_unit_of_work()
    return user


def csrf_from(html: str) -> str:
    match = _CSRF.search(html) or _CSRF_ANY.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in_with_code(client, user):
    login(client, user.email)
    page = "/account/login/two-factor"
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(page, data={"code": pyotp.TOTP(user.totp_secret).now(), "csrf_token": token})


def sign_in_staff(client, role: str = "staff", email: str | None = None):
    """Creates an enrolled user with ``role`` and signs ``client`` in; returns the user."""
    user = enrolled(email or f"{role}@example.com", role)
    response = sign_in_with_code(client, user)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return user


def csrf(client, path: str = "/admin/") -> str:
    """A CSRF token for this client's session, read from a page it can see."""
    return csrf_from(client.get(path).get_data(as_text=True))
