"""Payments: Stripe Checkout (app/payments/stripe_gateway.py is the only module that imports
stripe), the offline sandbox for development, and the webhook receiver (what events mean
for orders is app/checkout/completion.py)."""

from flask import Blueprint

from app.core.security import never_stored

bp = Blueprint("payments", __name__)
never_stored(bp)

from app.payments import models  # noqa: E402,F401  (routes: app.ROUTE_MODULES)
