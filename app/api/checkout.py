"""Checkout resources: addresses and shipping method, the server-computed summary, the Stripe
Checkout Session URL and the order status to poll."""
