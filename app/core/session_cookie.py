"""The website's signed-cookie session, kept away from the JSON API.

The API authenticates by bearer token only (app.api.auth), so under ``/api/`` the session is
never read from the cookie nor written back. That keeps a website session from leaking
into an API call (no ambient authority to forge), and keeps ``Vary: Cookie`` off API
responses, whose caching depends on the URL and the Authorization header only.
"""

from __future__ import annotations

from flask import Flask, Request, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

API_PREFIX = "/api/"


class WebsiteSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(API_PREFIX):
            return self.session_class()  # empty, never saved
        if not request.cookies.get(self.get_cookie_name(app)):
            # No cookie, nothing to verify: skip building the signer (most anonymous requests).
            return self.session_class() if app.secret_key else None
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if request.path.startswith(API_PREFIX):
            return
        super().save_session(app, session, response)
