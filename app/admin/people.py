"""Customers, notifications outbox, audit log and webhook events."""
