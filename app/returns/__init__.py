"""Returns (RMA): a customer asks to return lines of a delivered order within the window,
staff approve or refuse, receive the goods (restocking what is resellable) and refund them
through the refund path; a full return leaves the order ``returned``."""

from flask import Blueprint

bp = Blueprint("returns", __name__)

from app.returns import models  # noqa: E402,F401  (routes: app.ROUTE_MODULES)
