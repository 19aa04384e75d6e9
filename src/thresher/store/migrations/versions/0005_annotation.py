"""annotation tables

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 14:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import thresher.store.tables

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "annotation_workflows",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("settings", thresher.store.tables.JSONText(), nullable=False),
        sa.Column("routing_hash", sa.String(length=64), nullable=False),
        sa.Column("synced_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_annotation_workflows_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_annotation_workflows")),
    )
    op.create_table(
        "annotation_queue",
        sa.Column("record_seq", BigId, nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("skill", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=64), nullable=False),
        sa.Column("filled", sa.Integer(), nullable=False),
        sa.Column("submitted", sa.Integer(), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("pending_review", sa.Integer(), nullable=False),
        sa.Column("awaiting_review", sa.Boolean(), nullable=False),
        sa.Column("review_holder", sa.String(length=128), nullable=True),
        sa.Column("review_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_annotation_queue_dataset_id_datasets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["record_seq"], ["records.seq"], name=op.f("fk_annotation_queue_record_seq_records"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("record_seq", name=op.f("pk_annotation_queue")),
    )
    with op.batch_alter_table("annotation_queue", schema=None) as batch_op:
        batch_op.create_index(
            "ix_annotation_queue_open", ["dataset_id", "is_open", "skill", "language", "record_seq"], unique=False
        )
        batch_op.create_index(
            "ix_annotation_queue_review", ["dataset_id", "awaiting_review", "record_seq"], unique=False
        )

    op.create_table(
        "annotation_assignments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("record_seq", BigId, nullable=False),
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("leased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("draft", thresher.store.tables.JSONText(), nullable=True),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("review_status", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_annotation_assignments_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_seq"],
            ["records.seq"],
            name=op.f("fk_annotation_assignments_record_seq_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_assignments")),
        sa.UniqueConstraint("record_seq", "slot", name="uq_annotation_assignments_record_slot"),
        sa.UniqueConstraint("record_seq", "user_name", name="uq_annotation_assignments_record_user"),
    )
    with op.batch_alter_table("annotation_assignments", schema=None) as batch_op:
        batch_op.create_index("ix_annotation_assignments_user", ["dataset_id", "user_name", "status"], unique=False)
        batch_op.create_index(
            "ix_annotation_assignments_expiry", ["dataset_id", "status", "lease_expires_at"], unique=False
        )
        batch_op.create_index(
            "ix_annotation_assignments_history", ["dataset_id", "user_name", "submitted_at"], unique=False
        )

    op.create_table(
        "annotation_reviews",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("record_seq", BigId, nullable=False),
        sa.Column("response_id", sa.String(length=32), nullable=False),
        sa.Column("assignment_id", sa.String(length=32), nullable=True),
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reviewer", sa.String(length=128), nullable=False),
        sa.Column("answers", thresher.store.tables.JSONText(), nullable=True),
        sa.Column("original_answers", thresher.store.tables.JSONText(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_annotation_reviews_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_seq"],
            ["records.seq"],
            name=op.f("fk_annotation_reviews_record_seq_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_reviews")),
    )
    with op.batch_alter_table("annotation_reviews", schema=None) as batch_op:
        batch_op.create_index("ix_annotation_reviews_response", ["response_id", "created_at"], unique=False)
        batch_op.create_index("ix_annotation_reviews_dataset", ["dataset_id", "created_at"], unique=False)


def downgrade() -> None:
    for table in ("annotation_reviews", "annotation_assignments", "annotation_queue", "annotation_workflows"):
        op.drop_table(table)
