"""Orders: pricing, stock reservation, the order state machine and payment fulfilment."""

from flask import Blueprint

bp = Blueprint("orders", __name__)

from app.orders import models, views  # noqa: E402,F401
