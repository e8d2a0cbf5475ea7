"""Response and query models of the order resources (money in minor units)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, Field, field_validator

from app.api.schemas import DiscountOut, plain_integer
from app.api.schemas_checkout import CheckoutAddressOut
from app.orders.models import OrderStatus

StatusName = Literal[
    "pending_payment",
    "payment_failed",
    "paid",
    "processing",
    "shipped",
    "delivered",
    "cancelled",
    "returned",
    "refunded",
]
assert set(get_args(StatusName)) == {s.value for s in OrderStatus}


class OrderListQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100, description="Page size (first page).")
    cursor: str | None = Field(
        default=None,
        max_length=200,
        description="Opaque cursor from next_cursor; later pages keep its page size.",
    )
    status: StatusName | None = Field(default=None, description="Only orders in this status.")

    _plain_limit = field_validator("limit", mode="before")(plain_integer)


class OrderSummaryOut(BaseModel):
    number: str
    status: str
    status_label: str
    created_at: datetime
    currency: str
    total: int
    item_count: int


class OrderPageOut(BaseModel):
    items: list[OrderSummaryOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class OrderLineOut(BaseModel):
    id: int = Field(description="The line's id, for return requests.")
    variant_id: int | None = Field(description="Null when the variant was deleted since.")
    product_name: str
    variant_options: str
    sku: str
    unit_price: int
    quantity: int
    tax: int
    line_total: int
    discount: int = Field(
        description="The line's share of the discounts: it was paid line_total - discount "
        "(plus tax when prices exclude it), and refunds of its units give that back."
    )


class OrderEventOut(BaseModel):
    from_status: str
    to_status: str
    label: str
    note: str
    created_at: datetime


class OrderOut(BaseModel):
    number: str
    status: str
    status_label: str
    created_at: datetime
    paid_at: datetime | None
    email: str
    currency: str
    lines: list[OrderLineOut]
    subtotal: int
    shipping: int
    shipping_method: str
    tax: int
    tax_inclusive: bool
    discount: int = Field(description="Taken off the items.")
    discounts: list[DiscountOut] = Field(description="The discount lines the order got.")
    total: int
    shipping_address: CheckoutAddressOut
    billing_address: CheckoutAddressOut
    events: list[OrderEventOut] = Field(description="The order's history, oldest first.")
    can_cancel: bool = Field(description="POST …/cancel would be accepted now.")


class OrderStatusOut(BaseModel):
    number: str
    status: str
    status_label: str
    paid: bool = Field(description="Payment confirmed (the order is paid or further along).")
    payment_status: str | None = Field(
        description="The latest payment attempt: pending, succeeded, failed, expired, "
        "refunded or partially_refunded; null before any."
    )
    currency: str
    total: int


class CancelOut(BaseModel):
    order: OrderOut
    refund_total: int = Field(description="What is being refunded, in minor units.")
    message: str
