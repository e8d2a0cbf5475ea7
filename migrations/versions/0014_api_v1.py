"""api v1: cart, checkout, orders, profile

Revision ID: 0014_api_v1
Revises: 0013_admin_imports
Create Date: 2026-11-25 09:00:00

Reserved in the chain so that work on separate areas never creates two heads; it may be
empty when the area needed no schema change.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_api_v1"
down_revision = "0013_admin_imports"
branch_labels = None
depends_on = None


def upgrade():
    # Checkout details set through the API, one row per cart (app/api/models_checkout.py).
    op.create_table(
        "api_checkouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cart_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("shipping_address", sa.JSON(), nullable=False),
        sa.Column("billing_address", sa.JSON(), nullable=True),
        sa.Column("shipping_method", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cart_id"],
            ["carts.id"],
            name=op.f("fk_api_checkouts_cart_id_carts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_checkouts")),
        sa.UniqueConstraint("cart_id", name=op.f("uq_api_checkouts_cart_id")),
    )


def downgrade():
    op.drop_table("api_checkouts")
