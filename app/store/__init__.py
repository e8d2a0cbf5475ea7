"""The shop's own settings as a domain: store details and defaults (``settings``) and the
shipping methods and tax rates staff offer (``shipping_tax``)."""

from app.store import models  # noqa: E402,F401  (the tables, for every entry point)
