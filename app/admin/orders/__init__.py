"""Staff order screens: the list and an order's page (views), what staff do to an order
(actions) and its documents (invoice, packing slip)."""

from app.admin.orders import actions, documents, views  # noqa: F401  (each registers views)
