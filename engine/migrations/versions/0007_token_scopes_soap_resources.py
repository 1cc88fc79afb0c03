"""token scopes and last use; customer sets of the SOAP API

Tokens get ``scopes`` (space-separated, such as ``read customers:write``; null: every scope,
as tokens made before had) and ``last_used_at``. ``soap_resources`` keeps the customer sets
the SOAP API answers with a resource id (``group_getMembers`` and the like) until freed;
``transactional_sends`` the idempotency keys of mails sent to one customer through the API.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("scopes", sa.String(), nullable=True))
        batch.add_column(sa.Column("last_used_at", UTCDateTime(), nullable=True))
    op.create_table(
        "soap_resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("customer_ids", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )

    op.create_table(
        "transactional_sends",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("flow", sa.String(), nullable=False),
        sa.Column("object", sa.String(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("transactional_sends")
    op.drop_table("soap_resources")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("scopes")
