"""Customers, the notifications outbox, the audit log and webhook events: one module per
screen; the small helpers they share live in ``common``."""

from app.admin.people import (  # noqa: F401
    audit,
    campaigns,
    customers,
    notifications,
    webhooks,
)
