"""Customers, the notifications outbox, the audit log and webhook events: one module per
screen; the small helpers they share live in ``common``."""

from app.admin.people import audit, customers, notifications, webhooks  # noqa: F401
