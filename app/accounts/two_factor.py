"""Filled in by the accounts work in progress."""
