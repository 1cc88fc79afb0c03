"""records are indexed by customer, collection and created_at, for aggregates in segments

A segment such as ``count(records.orders where days_since(created_at) <= 30) >= 2`` runs as a
correlated subquery per customer; with ``created_at`` at the end of the index it reads only the
customer's recent records of that collection, from the index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 01:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _index(["customer_id", "collection", "created_at"])


def downgrade() -> None:
    _index(["customer_id", "collection"])


def _index(columns: list[str]) -> None:
    op.drop_index("ix_records_customer", table_name="records")
    op.create_index("ix_records_customer", "records", columns)
