"""Payments: Stripe Checkout (app/payments/stripe_gateway.py is the only module that imports
stripe), the offline sandbox for development, the webhook receiver and fulfilment."""

from flask import Blueprint

bp = Blueprint("payments", __name__)

from app.payments import models, views  # noqa: E402,F401
