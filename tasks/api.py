"""API housekeeping: expired and revoked refresh tokens are deleted."""
