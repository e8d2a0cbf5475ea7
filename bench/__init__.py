"""Benchmarks that print numbers (``python -m bench.catalog``)."""
