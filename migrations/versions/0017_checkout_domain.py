"""checkout domain: details per cart for both doors, write-ahead session attempts, why an
order was cancelled, the session's URL and expiry on its payment

Revision ID: 0017_checkout_domain
Revises: 0016_category_redirects
Create Date: 2026-12-04 19:30:00

Tables that others point at (orders, payments) only gain nullable or defaulted columns: on
SQLite a table rebuild would cascade-delete the rows referring to them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_checkout_domain"
down_revision = "0016_category_redirects"
branch_labels = None
depends_on = None

# The note each cancellation path wrote, and the reason it now records (app.orders.models).
_REASONS = {
    "expired": ("reservation expired", "checkout session expired"),
    "replaced": ("replaced by a new payment attempt",),
    "customer": ("payment cancelled by the shopper", "cancelled by the customer"),
}


def _details_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cart_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("shipping_address", sa.JSON(), nullable=False),
        sa.Column("billing_address", sa.JSON(), nullable=True),
        sa.Column("shipping_method", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cart_id"], ["carts.id"], name=op.f(f"fk_{name}_cart_id_carts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("cart_id", name=op.f(f"uq_{name}_cart_id")),
    )


def _copy(source: str, target: str) -> None:
    columns = (
        "id, cart_id, email, shipping_address, billing_address, shipping_method, "
        "created_at, updated_at"
    )
    op.execute(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {source}")  # noqa: S608


def upgrade():
    # The website now keeps its checkout details where the API did: one record per cart.
    _details_table("checkout_details")
    _copy("api_checkouts", "checkout_details")
    op.drop_table("api_checkouts")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('checkout_details', 'id'), "
            "COALESCE((SELECT MAX(id) FROM checkout_details), 0) + 1, false)"
        )

    op.create_table(
        "checkout_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_checkout_attempts_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkout_attempts")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_checkout_attempts_idempotency_key")),
        sa.UniqueConstraint(
            "order_id", "number", name=op.f("uq_checkout_attempts_order_id_number")
        ),
    )

    # Plain ALTER TABLE (no batch): SQLite adds and drops these columns in place.
    op.add_column(
        "orders",
        sa.Column("cancel_reason", sa.String(length=16), server_default="", nullable=False),
    )
    for reason, notes in _REASONS.items():
        listed = ", ".join(f"'{note}'" for note in notes)
        op.execute(
            f"UPDATE orders SET cancel_reason = '{reason}' WHERE status IN ('cancelled', "  # noqa: S608
            "'refunded') AND cancel_reason = '' AND id IN (SELECT order_id FROM order_events "
            f"WHERE to_status = 'cancelled' AND note IN ({listed}))"
        )
    op.execute(
        "UPDATE orders SET cancel_reason = 'staff' WHERE status IN ('cancelled', 'refunded') "
        "AND cancel_reason = '' AND id IN (SELECT order_id FROM order_events "
        "WHERE to_status = 'cancelled')"
    )

    op.add_column(
        "payments", sa.Column("checkout_url", sa.Text(), server_default="", nullable=False)
    )
    op.add_column("payments", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column("payments", "expires_at")
    op.drop_column("payments", "checkout_url")
    op.drop_column("orders", "cancel_reason")
    op.drop_table("checkout_attempts")
    _details_table("api_checkouts")
    _copy("checkout_details", "api_checkouts")
    op.drop_table("checkout_details")
