"""flow versions: what `sluis start` deployed, and the version every journey runs on

``flow_versions`` holds each deployed flow file (number, content hash, YAML, who, when);
``flow_states.version`` names the running one; ``journeys.version`` and ``claims.version``
say which version a journey (a claimed batch) runs on: 0 for journeys made before versions were
kept, which run on the flow's running version.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_versions",
        sa.Column("flow", sa.String(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.Column("yaml", sa.String(), nullable=False),
        sa.Column("deployed_by", sa.String(), nullable=False),
        sa.Column("deployed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("flow", "number"),
    )
    with op.batch_alter_table("flow_states") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("journeys") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    for table in ("claims", "journeys", "flow_states"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("version")
    op.drop_table("flow_versions")
