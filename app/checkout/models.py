"""What checkout keeps between steps: the details a cart is paid with, and a write-ahead record
of every Checkout Session request, made before the request is sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, TimestampMixin, utcnow


class CheckoutDetails(TimestampMixin, Base):
    """Email, addresses and delivery option of one cart, whichever door set them (the
    website's form or ``PUT /api/v1/checkout/details``). It goes with the cart."""

    __tablename__ = "checkout_details"

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(sa.ForeignKey("carts.id", ondelete="CASCADE"), unique=True)
    email: Mapped[str] = mapped_column(sa.String(320))
    shipping_address: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)  # None: same
    shipping_method: Mapped[str] = mapped_column(sa.String(32))

    @property
    def billing_same(self) -> bool:
        return self.billing_address is None

    @property
    def billing(self) -> dict[str, Any]:
        """The address the payment is billed to (the shipping address when the same)."""
        return self.billing_address or self.shipping_address

    def __repr__(self) -> str:
        return f"<CheckoutDetails cart={self.cart_id}>"


class CheckoutAttempt(Base):
    """One request to create a Checkout Session, stored before it is sent.

    Stripe binds an idempotency key to the exact parameters it was first used with, so the
    parameters are fixed here once (``request``, expiry included) and every retry — a double
    press, an API retry, the sweeper finding out what became of a request whose answer was
    lost — sends exactly these with ``idempotency_key``. ``resolved_at`` is set once the
    outcome is known: the session is recorded as a :class:`~app.payments.models.Payment` with
    the same ``number``, or the request is known never to have created one.
    """

    __tablename__ = "checkout_attempts"
    __table_args__ = (sa.UniqueConstraint("order_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column()
    idempotency_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    request: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()

    order = relationship("Order")
