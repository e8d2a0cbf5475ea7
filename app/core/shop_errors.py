"""One error type for the shop's rules, for every domain and both doors.

A service refuses with a ``ShopError``: ``str(exc)`` is for people (safe to show, names the
thing), ``code`` is for programs (the API's problem ``code``, stable), ``field`` names the input
it is about when there is one. Each door maps it once: the API with
``app.api.openapi.shop_problem`` (422 with ``errors[field]``, else ``status`` with the code),
the website by showing the message on the field or at the top of the form.
"""

from __future__ import annotations

from typing import Any


class ShopError(ValueError):
    code = "rejected"  # a domain's default; an instance may say more precisely why
    status = 409  # the API's answer when no field is to blame

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.field = field


def show_on_form(form: Any, exc: ShopError, *, default: str | None = None) -> None:
    """The website's mapper: the message on the form field the error is about (``default``
    when it names none), else at the top of the form."""
    name = exc.field or default
    target = form._fields.get(name) if name else None
    if target is None:
        form.form_errors.append(str(exc))
    else:
        target.errors = [*target.errors, str(exc)]
