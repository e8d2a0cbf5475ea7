"""The checkout's fixtures (the strict Stripe fake, an app on a database of its own)."""

from tests.checkout.conftest import fake_stripe, own_app  # noqa: F401 (fixtures)
