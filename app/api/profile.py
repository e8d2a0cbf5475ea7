"""Profile resources: update, address book, notification preferences, password change,
account deletion."""
