"""Notifications: a durable outbox, channels (email, SMS, WhatsApp), templates, preferences."""

from flask import Blueprint

bp = Blueprint("notifications", __name__)

from app.notifications import views  # noqa: E402,F401
