"""Store settings: store details, shipping methods, tax rates, low-stock default."""
