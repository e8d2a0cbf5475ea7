from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, TimestampMixin, one_of
from app.orders.models import Order, OrderLine


class ReturnStatus(enum.StrEnum):
    REQUESTED = "requested"  # the customer asked; staff decide
    APPROVED = "approved"  # send the goods back
    REFUSED = "refused"
    RECEIVED = "received"  # the goods arrived; resellable units are back in stock
    REFUNDED = "refunded"  # done


OPEN = frozenset({ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.RECEIVED})


class ReturnReason(enum.StrEnum):
    DAMAGED = "damaged"
    WRONG_ITEM = "wrong_item"
    NOT_AS_DESCRIBED = "not_as_described"
    DOES_NOT_FIT = "does_not_fit"
    CHANGED_MIND = "changed_mind"
    OTHER = "other"


REASON_LABELS = {
    ReturnReason.DAMAGED: "It arrived damaged or faulty",
    ReturnReason.WRONG_ITEM: "I received the wrong item",
    ReturnReason.NOT_AS_DESCRIBED: "It is not as described",
    ReturnReason.DOES_NOT_FIT: "It does not fit",
    ReturnReason.CHANGED_MIND: "I changed my mind",
    ReturnReason.OTHER: "Another reason",
}


class ReturnRequest(TimestampMixin, Base):
    __tablename__ = "return_requests"
    __table_args__ = (
        one_of("status", ReturnStatus, name="status_valid"),
        one_of("reason", ReturnReason, name="reason_valid"),
        sa.Index("ix_return_requests_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(24), unique=True)  # "SS-8K3J-Q2XF-R1"
    order_id: Mapped[int] = mapped_column(
        sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(16), default=ReturnStatus.REQUESTED)
    reason: Mapped[str] = mapped_column(sa.String(24))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    staff_message: Mapped[str] = mapped_column(sa.Text, default="")
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    received_at: Mapped[datetime | None] = mapped_column()
    refund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("refunds.id", ondelete="SET NULL"))

    order: Mapped[Order] = relationship()
    lines: Mapped[list[ReturnLine]] = relationship(
        back_populates="request", order_by="ReturnLine.id", cascade="all, delete-orphan"
    )


class ReturnLine(Base):
    __tablename__ = "return_lines"
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("received >= 0 AND received <= quantity", name="received_range"),
        sa.CheckConstraint("restocked >= 0 AND restocked <= received", name="restocked_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("return_requests.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[int] = mapped_column(
        sa.ForeignKey("order_lines.id", ondelete="CASCADE"), index=True
    )
    quantity: Mapped[int] = mapped_column()
    received: Mapped[int] = mapped_column(default=0)
    restocked: Mapped[int] = mapped_column(default=0)

    request: Mapped[ReturnRequest] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()
