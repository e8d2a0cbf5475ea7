"""Render a notification from its template and variables, at send time.

Templates live in ``templates/notifications/<name>/``: ``subject.txt``, ``body.txt`` and
``body.html`` for email, ``sms.txt`` for SMS and WhatsApp. Missing variables raise
(StrictUndefined). HTML email gets its CSS inlined by css-inline.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import css_inline
from flask import current_app
from itsdangerous import URLSafeSerializer
from jinja2 import Environment, StrictUndefined, TemplateNotFound

from app.config import BASE_DIR
from app.notifications.channels import Message
from app.notifications.models import Category, Channel, Notification
from app.store.settings import store_details

TEMPLATE_ROOT = BASE_DIR / "templates" / "notifications"
UNSUBSCRIBE_SALT = "notifications.unsubscribe"


class TemplateError(ValueError):
    """A template is missing or a variable it needs was not given."""


def _env() -> Environment:
    app = current_app
    env: Environment = app.extensions.get("notification_jinja")  # type: ignore[assignment]
    if env is None:
        env = app.jinja_env.overlay(undefined=StrictUndefined)
        env.globals["external_url"] = external_url
        app.extensions["notification_jinja"] = env
    return env


def template_names() -> list[str]:
    return sorted(
        p.name for p in TEMPLATE_ROOT.iterdir() if p.is_dir() and not p.name.startswith("_")
    )


def template_channels(name: str) -> set[str]:
    folder = TEMPLATE_ROOT / name
    channels: set[str] = set()
    if (folder / "subject.txt").exists() and (folder / "body.txt").exists():
        channels.add(Channel.EMAIL)
    if (folder / "sms.txt").exists():
        channels.update({Channel.SMS, Channel.WHATSAPP})
    return channels


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link to the shop, without a request (tasks render emails)."""
    base = current_app.config["SHOP_BASE_URL"]
    scheme, _, host = base.partition("://")
    adapter = current_app.url_map.bind(host, url_scheme=scheme)
    return adapter.build(endpoint, values, force_external=True)


def unsubscribe_token(address: str, category: str) -> str:
    serializer = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)
    return serializer.dumps({"a": address.lower(), "c": category})


def read_unsubscribe_token(token: str) -> tuple[str, str] | None:
    serializer = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)
    try:
        data = serializer.loads(token)
        return str(data["a"]), str(data["c"])
    except Exception:  # noqa: BLE001 - any tampering or garbage is simply invalid
        return None


def render(notification: Notification) -> Message:
    env = _env()
    name = notification.template
    variables = dict(notification.variables or {})
    store = store_details()  # read at send time: the footer shows the current details
    variables.setdefault("shop_name", store.name)
    variables.setdefault("store", store)
    headers: dict[str, str] = {}
    if notification.category == Category.MARKETING:
        token = unsubscribe_token(notification.to_address, notification.category)
        link = external_url("notifications.unsubscribe", token=token)
        variables["unsubscribe_url"] = link
        headers["List-Unsubscribe"] = f"<{link}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    try:
        if notification.channel == Channel.EMAIL:
            subject = env.get_template(f"notifications/{name}/subject.txt").render(variables)
            text = env.get_template(f"notifications/{name}/body.txt").render(variables)
            html = _render_html(env, name, variables)
            return Message(
                notification.id,
                notification.channel,
                notification.to_address,
                subject=" ".join(subject.split()),
                text=text,
                html=html,
                headers=headers,
            )
        text = env.get_template(f"notifications/{name}/sms.txt").render(variables).strip()
        return Message(notification.id, notification.channel, notification.to_address, text=text)
    except TemplateNotFound as exc:
        raise TemplateError(f"template {exc.name} does not exist") from exc
    except Exception as exc:  # StrictUndefined and template syntax errors
        if type(exc).__name__ in {"UndefinedError", "TemplateSyntaxError"}:
            raise TemplateError(f"{name}: {exc}") from exc
        raise


def _render_html(env: Environment, name: str, variables: dict[str, Any]) -> str:
    html = env.get_template(f"notifications/{name}/body.html").render(variables)
    return _inliner().inline(html)


@cache
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)
