"""Staff settings screens: store details, shipping methods, tax rates (views) and the
shop's own pages (pages). The rules live in app.store and app.pages."""

from app.admin.settings import pages, views  # noqa: F401  (each registers its views)
