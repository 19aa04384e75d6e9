"""capture cursors: how far the capture worker has turned events into records, and triaged them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "capture_cursors",
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    # Until now every event became its record as it was stored: all are done.
    op.execute(
        "INSERT INTO capture_cursors (project_id, name, seq) "
        "SELECT project_id, 'records', MAX(seq) FROM capture_events GROUP BY project_id"
    )
    # The triage cursor was kept as the progress of a `triage` row in `jobs`.
    op.execute(
        "INSERT INTO capture_cursors (project_id, name, seq) "
        "SELECT project_id, 'triage', progress FROM jobs WHERE kind = 'triage'"
    )
    op.execute("DELETE FROM jobs WHERE kind = 'triage'")


def downgrade() -> None:
    op.drop_table("capture_cursors")
