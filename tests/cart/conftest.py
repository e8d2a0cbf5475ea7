"""The checkout's strict Stripe fake, for the guest recovery tests."""

from tests.checkout.conftest import fake_stripe  # noqa: F401 (fixture)
