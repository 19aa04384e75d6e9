"""indexes for dropping superseded capture records

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 15:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_capture_events_record", "capture_events", ["record_id"])
    op.create_index("ix_version_records_record", "version_records", ["record_seq"])


def downgrade() -> None:
    op.drop_index("ix_version_records_record", table_name="version_records")
    op.drop_index("ix_capture_events_record", table_name="capture_events")
