"""Delivery backends behind one interface, chosen by configuration."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, current_app


@dataclass
class Message:
    """A rendered message. Lives only while it is being sent; never stored."""

    notification_id: int
    channel: str
    to: str
    subject: str = ""
    text: str = ""
    html: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class DeliveryError(Exception):
    """Sending failed. ``transient`` errors are retried with backoff; others go dead."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class Backend:
    name = "backend"

    def send(self, message: Message) -> str:
        """Deliver and return the provider's message id, or raise DeliveryError."""
        raise NotImplementedError


def get_backend(channel: str, app: Flask | None = None) -> Backend:
    """The configured backend for a channel, one instance (and circuit breaker) per app."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    backends: dict[str, Backend] = app.extensions.setdefault("shop_channels", {})
    if channel not in backends:
        backends[channel] = _build(channel, app)
    return backends[channel]


def _build(channel: str, app: Flask) -> Backend:
    from app.notifications.channels.brevo import BrevoBackend
    from app.notifications.channels.outbox import OutboxBackend
    from app.notifications.channels.smtp import SmtpBackend

    cfg = app.config
    setting = {
        "email": cfg["MAIL_BACKEND"],
        "sms": cfg["SMS_BACKEND"],
        "whatsapp": cfg["WHATSAPP_BACKEND"],
    }[channel]
    if setting == "outbox":
        return OutboxBackend()
    if setting == "smtp" and channel == "email":
        return SmtpBackend.from_config(cfg)
    if setting == "brevo":
        return BrevoBackend.from_config(cfg, channel)
    raise ValueError(f"unknown {channel} backend {setting!r}")
