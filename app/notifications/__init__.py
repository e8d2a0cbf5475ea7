"""Notifications: a durable outbox, channels (email, SMS, WhatsApp), templates, preferences."""

from flask import Blueprint

bp = Blueprint("notifications", __name__)

# Routes: app.ROUTE_MODULES.
