"""Orders: pricing, stock reservation, the order state machine, staff fulfilment, refunds and
a customer's own orders."""

from flask import Blueprint

from app.core.security import never_stored

bp = Blueprint("orders", __name__)
never_stored(bp)

from app.orders import models  # noqa: E402,F401  (routes: app.ROUTE_MODULES)
