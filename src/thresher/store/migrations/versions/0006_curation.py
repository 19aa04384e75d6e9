"""curation tables

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 14:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import thresher.store.tables

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "curation_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("pipeline", sa.String(length=128), nullable=False),
        sa.Column("spec", thresher.store.tables.JSONText(), nullable=False),
        sa.Column("spec_hash", sa.String(length=64), nullable=False),
        sa.Column("source_dataset_id", sa.Integer(), nullable=True),
        sa.Column("source_version_id", sa.Integer(), nullable=True),
        sa.Column("output_dataset_id", sa.Integer(), nullable=True),
        sa.Column("output_version_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stats", thresher.store.tables.JSONText(), nullable=False),
        sa.Column("run_dir", sa.Text(), nullable=False),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_curation_runs_project_id_projects"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["source_dataset_id"],
            ["datasets.id"],
            name=op.f("fk_curation_runs_source_dataset_id_datasets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_version_id"],
            ["dataset_versions.id"],
            name=op.f("fk_curation_runs_source_version_id_dataset_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["output_dataset_id"],
            ["datasets.id"],
            name=op.f("fk_curation_runs_output_dataset_id_datasets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["output_version_id"],
            ["dataset_versions.id"],
            name=op.f("fk_curation_runs_output_version_id_dataset_versions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_curation_runs")),
    )
    with op.batch_alter_table("curation_runs", schema=None) as batch_op:
        batch_op.create_index("ix_curation_runs_spec", ["project_id", "spec_hash", "created_at"], unique=False)

    op.create_table(
        "curation_decisions",
        sa.Column("seq", BigId, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("block_index", sa.Integer(), nullable=False),
        sa.Column("block", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=128), nullable=False),
        sa.Column("cluster", sa.String(length=32), nullable=True),
        sa.Column("detail", thresher.store.tables.JSONText(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["curation_runs.id"],
            name=op.f("fk_curation_decisions_run_id_curation_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_curation_decisions")),
    )
    with op.batch_alter_table("curation_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_curation_decisions_record", ["record_id"], unique=False)
        batch_op.create_index("ix_curation_decisions_run", ["run_id", "block_index"], unique=False)

    op.create_table(
        "triage_log",
        sa.Column("seq", BigId, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_record_id", sa.String(length=32), nullable=True),
        sa.Column("detail", thresher.store.tables.JSONText(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_triage_log_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_triage_log")),
        sa.UniqueConstraint("project_id", "rule", "record_id", "action", name="uq_triage_log_project_rule"),
    )
    with op.batch_alter_table("triage_log", schema=None) as batch_op:
        batch_op.create_index("ix_triage_log_record", ["record_id"], unique=False)


def downgrade() -> None:
    op.drop_table("triage_log")
    op.drop_table("curation_decisions")
    op.drop_table("curation_runs")
