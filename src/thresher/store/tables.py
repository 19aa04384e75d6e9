"""SQLAlchemy tables. JSON lives in ``JSONText``: TEXT on SQLite, JSONB on PostgreSQL, str in Python.

Keeping JSON as text in Python lets bulk paths pass pre-serialized orjson bytes straight
through (import) and write stored text straight out (export) without a parse/dump round trip.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

from thresher.model.record import json_bytes

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for large stores.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class JSONText(TypeDecorator[str]):
    """JSON stored as TEXT (SQLite) or JSONB (PostgreSQL); always a ``str`` on the Python side."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            # The JSONB impl serializes what it gets: hand it the value, not its JSON text.
            # json, not orjson: orjson reads integers beyond 64 bits as floats.
            return json.loads(value) if isinstance(value, str) else value
        if value is None or isinstance(value, str):
            return value
        return json_bytes(value).decode()

    def result_processor(self, dialect: Dialect, coltype: Any) -> None:
        # Both drivers already hand back text (SQLite TEXT; JSONB through the text loader that
        # engine.py registers on psycopg): no per-value hook on the hot read path.
        return None


projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("description", Text),
    Column("guidelines", Text),
    Column("questions", JSONText, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("project_id", "name", name="uq_datasets_project_name"),
)

records = Table(
    "records",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("content", JSONText, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("metadata", JSONText, nullable=False),
    Column("source", JSONText, nullable=False),
    Column("split", String(64)),
    Column("task_type", String(32)),
    Column("domains", JSONText, nullable=False),
    Column("lineage", JSONText, nullable=False),
    Column("synthetic", Boolean, nullable=False),
    Column("import_id", String(32)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("dataset_id", "content_hash", name="uq_records_dataset_hash"),
    Index("ix_records_dataset_seq", "dataset_id", "seq"),  # keyset pages in insertion order
    Index("ix_records_dataset_kind", "dataset_id", "kind", "seq"),
    Index("ix_records_dataset_split", "dataset_id", "split", "seq"),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("description", Text),
    Column("record_count", BigInteger, nullable=False),
    Column("manifest_hash", String(64), nullable=False),
    Column("questions", JSONText, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("dataset_id", "name", name="uq_dataset_versions_dataset_name"),
)

# Membership of a version: the records it holds, frozen at creation.
version_records = Table(
    "version_records",
    metadata,
    Column("version_id", Integer, ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("record_seq", BigId, ForeignKey("records.seq"), primary_key=True),
    # Deleting a record checks this foreign key: without the index each check scans the table.
    Index("ix_version_records_record", "record_seq"),
)

responses = Table(
    "responses",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("record_id", String(32), ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
    Column("user_name", String(128), nullable=False),
    Column("answers", JSONText, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("record_id", "user_name", name="uq_responses_record_user"),
)

# A version copies the responses it saw, so an export of it is the same tomorrow.
version_responses = Table(
    "version_responses",
    metadata,
    Column("version_id", Integer, ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("response_id", String(32), primary_key=True),
    Column("record_id", String(32), nullable=False, index=True),
    Column("user_name", String(128), nullable=False),
    Column("answers", JSONText, nullable=False),
    Column("status", String(16), nullable=False),
)

suggestions = Table(
    "suggestions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("record_id", String(32), ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
    Column("question", String(64), nullable=False),
    Column("value", JSONText, nullable=False),
    Column("agent", String(128), nullable=False),
    Column("score", Float),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("record_id", "question", "agent", name="uq_suggestions_record_question_agent"),
)

imports = Table(
    "imports",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("file", Text, nullable=False),
    Column("format", String(64), nullable=False),
    Column("counts", JSONText, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# -- accounts and access (server) ---------------------------------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("is_admin", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# A user's role in a project: owner, engineer, reviewer, annotator.
memberships = Table(
    "memberships",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("skills", JSONText, nullable=False),
    Column("languages", JSONText, nullable=False),
)

# API keys: shown once, stored as sha256 (they are long random secrets, so no slow hash is needed).
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("name", String(128), nullable=False),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

# Browser sessions: the cookie holds a random token; the table holds its sha256.
sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# -- capture (events from deployed apps) --------------------------------------------------------

# Every capture event, once (unique by the client's id): the idempotency ledger, the turns of
# sessions and the steps of runs still in progress, and a link to the record each became.
capture_events = Table(
    "capture_events",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("client_id", String(128), nullable=False),
    Column("type", String(16), nullable=False),
    Column("dataset", String(128), nullable=False),
    Column("key", String(128)),  # session id or run id
    Column("client_ts", Float),
    Column("payload", JSONText, nullable=False),
    Column("record_id", String(32)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("project_id", "client_id", name="uq_capture_events_project_client"),
    Index("ix_capture_events_key", "project_id", "type", "key", "seq"),
    Index("ix_capture_events_record", "record_id"),  # "does an event still hold this record?"
)

# How far capture's worker has gone, per project: `records` (events up to `seq` have become
# their records) and `triage` (the rules have seen those records).
capture_cursors = Table(
    "capture_cursors",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(16), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

# -- background jobs and webhooks (server) ------------------------------------------------------

# Background jobs (exports): their state lives here, so progress survives a page reload and a
# restart. `progress` counts records done out of `total`; `result` is the finished file's path.
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="SET NULL")),  # the job outlives it
    Column("kind", String(16), nullable=False),  # "export"
    Column("status", String(16), nullable=False),  # queued, running, done, failed, cancelled
    Column("params", JSONText, nullable=False),
    Column("progress", BigInteger, nullable=False),
    Column("total", BigInteger),
    Column("result", Text),
    Column("error", Text),
    Column("created_by", String(128)),  # who asked: a user name or "key:<name>"
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_jobs_project_created", "project_id", "created_at"),
    Index("ix_jobs_status_created", "status", "created_at"),  # the runner's queue
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    # Stored as given, not hashed: it is the HMAC key that signs every payload, so the server must
    # be able to read it back (unlike API keys, which it only has to recognize).
    Column("secret", String(256), nullable=False),
    Column("events", JSONText, nullable=False),  # list of event types
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per (event, webhook): the outbox the delivery worker drains, and the delivery log.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("webhook_id", String(32), ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event", String(64), nullable=False),
    Column("payload", JSONText, nullable=False),  # the whole body sent
    Column("status", String(16), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("last_status", Integer),  # the receiver's HTTP status
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_webhook", "webhook_id", "created_at"),
)

# -- annotation (thresher.annotate): profiles, assignments and leases, reviews ------------------
# Per-dataset workflow: overlap, lease, review policy, consensus rules, routing (a JSON document
# validated by thresher.annotate.Workflow); `synced_seq` is the last record routed into the queue.
annotation_workflows = Table(
    "annotation_workflows",
    metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    Column("settings", JSONText, nullable=False),
    Column("routing_hash", String(64), nullable=False),  # a routing change re-routes the queue
    Column("synced_seq", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# One row per record in the queue: the skill and language it needs, and its slot counters. The
# next-task query is an index seek on (dataset, open, skill, language, seq), never a scan.
annotation_queue = Table(
    "annotation_queue",
    metadata,
    Column("record_seq", BigId, ForeignKey("records.seq", ondelete="CASCADE"), primary_key=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("record_id", String(32), nullable=False),
    Column("skill", String(64), nullable=False),  # "" when the record needs none
    Column("language", String(64), nullable=False),
    Column("filled", Integer, nullable=False),  # slots held: leased, rejected (back with its annotator), submitted
    Column("submitted", Integer, nullable=False),
    Column("is_open", Boolean, nullable=False),  # filled < overlap
    Column("pending_review", Integer, nullable=False),
    Column("awaiting_review", Boolean, nullable=False),  # complete and with submissions not yet reviewed
    Column("review_holder", String(128)),
    Column("review_expires_at", DateTime(timezone=True)),
    Index("ix_annotation_queue_open", "dataset_id", "is_open", "skill", "language", "record_seq"),
    Index("ix_annotation_queue_review", "dataset_id", "awaiting_review", "record_seq"),
)

# A user's hold on one of a record's `overlap` slots. Unique (record, slot): two annotators never
# hold the same slot; unique (record, user): N slots go to N distinct annotators. A released row
# (skipped, expired) keeps its history with slot NULL, which does not collide.
annotation_assignments = Table(
    "annotation_assignments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("record_seq", BigId, ForeignKey("records.seq", ondelete="CASCADE"), nullable=False),
    Column("record_id", String(32), nullable=False),
    Column("user_name", String(128), nullable=False),
    Column("slot", Integer),
    Column("status", String(16), nullable=False),  # leased, rejected, submitted, skipped, expired
    Column("leased_at", DateTime(timezone=True), nullable=False),
    Column("lease_expires_at", DateTime(timezone=True)),  # NULL: a rejection waiting for its annotator
    Column("submitted_at", DateTime(timezone=True)),
    Column("draft", JSONText),
    Column("skip_reason", Text),
    Column("reject_reason", Text),
    Column("review_status", String(16)),  # pending, accepted, rejected, corrected
    UniqueConstraint("record_seq", "slot", name="uq_annotation_assignments_record_slot"),
    UniqueConstraint("record_seq", "user_name", name="uq_annotation_assignments_record_user"),
    Index("ix_annotation_assignments_user", "dataset_id", "user_name", "status"),
    Index("ix_annotation_assignments_expiry", "dataset_id", "status", "lease_expires_at"),
    Index("ix_annotation_assignments_history", "dataset_id", "user_name", "submitted_at"),
)

# Review decisions on responses; a correction keeps the annotator's original answers here (the
# response takes the reviewer's), so agreement still measures what annotators said.
annotation_reviews = Table(
    "annotation_reviews",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("record_seq", BigId, ForeignKey("records.seq", ondelete="CASCADE"), nullable=False),
    Column("response_id", String(32), nullable=False),
    Column("assignment_id", String(32)),
    Column("user_name", String(128), nullable=False),  # whose response
    Column("decision", String(16), nullable=False),  # accept, reject, correct
    Column("reason", Text),
    Column("reviewer", String(128), nullable=False),
    Column("answers", JSONText),  # the correction
    Column("original_answers", JSONText),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_annotation_reviews_response", "response_id", "created_at"),
    Index("ix_annotation_reviews_dataset", "dataset_id", "created_at"),
)


# -- curation (thresher.curate): pipeline runs, per-record decisions, clusters ------------------

# One row per pipeline run: its exact spec (so it can be rebuilt), where it read and wrote, the
# per-block counters, the report; `status` running -> done lets an interrupted run resume.
curation_runs = Table(
    "curation_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("pipeline", String(128), nullable=False),
    Column("spec", JSONText, nullable=False),
    Column("spec_hash", String(64), nullable=False),
    Column("source_dataset_id", Integer, ForeignKey("datasets.id", ondelete="SET NULL")),
    Column("source_version_id", Integer, ForeignKey("dataset_versions.id", ondelete="SET NULL")),
    Column("output_dataset_id", Integer, ForeignKey("datasets.id", ondelete="SET NULL")),
    Column("output_version_id", Integer, ForeignKey("dataset_versions.id", ondelete="SET NULL")),
    Column("status", String(16), nullable=False),  # running, done, failed
    Column("stats", JSONText, nullable=False),  # per block: seen, kept, dropped/changed/flagged by reason
    Column("run_dir", Text, nullable=False),
    Column("report", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_curation_runs_spec", "project_id", "spec_hash", "created_at"),
)

# What a block did to a record (kept records have no row): dropped, changed, flagged or failed,
# with the reason, details (a cluster's keeper and similarity, the matching benchmark item...).
curation_decisions = Table(
    "curation_decisions",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("curation_runs.id", ondelete="CASCADE"), nullable=False),
    Column("block_index", Integer, nullable=False),
    Column("block", String(64), nullable=False),
    Column("record_id", String(32), nullable=False),
    Column("action", String(16), nullable=False),
    Column("reason", String(128), nullable=False),
    Column("cluster", String(32)),  # dedup: the record kept for this one's cluster
    Column("detail", JSONText, nullable=False),
    Index("ix_curation_decisions_record", "record_id"),
    Index("ix_curation_decisions_run", "run_id", "block_index"),
)

# Triage: each rule fires once per record and action (a re-run or a repeated capture event
# adds nothing), and what it made is linked back.
triage_log = Table(
    "triage_log",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("rule", String(128), nullable=False),
    Column("record_id", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target_record_id", String(32)),
    Column("detail", JSONText, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("project_id", "rule", "record_id", "action", name="uq_triage_log_project_rule"),
    Index("ix_triage_log_record", "record_id"),
)

# -- evals (thresher.evals): suites, runs, results, response cache, stages, arena ----------------

# A suite is an eval dataset (records of kind `eval_item`) frozen as a version; a run is that
# version x one model. `stage` is a name (the train engineer's `stages` table owns what it means);
# `training_version` names the training dataset version the model came from ("project/ds@v1").
eval_runs = Table(
    "eval_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("suite_version_id", Integer, ForeignKey("dataset_versions.id", ondelete="CASCADE"), nullable=False),
    Column("suite", String(256), nullable=False),  # "dataset@version", for display
    Column("model", String(256), nullable=False),
    Column("adapter", String(64), nullable=False),
    Column("params", JSONText, nullable=False),  # sampling params, scorer spec, samples
    Column("stage", String(128)),
    Column("training_version", String(256)),
    Column("status", String(16), nullable=False),  # running, done, failed
    Column("summary", JSONText, nullable=False),  # counts, mean score with its CI, calls, cache hits
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_eval_runs_project_created", "project_id", "created_at"),
)

eval_results = Table(
    "eval_results",
    metadata,
    Column("run_id", String(32), ForeignKey("eval_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("record_id", String(32), primary_key=True),
    Column("output", Text),
    Column("score", Float),  # 0..1; null while a human score is pending or when the call failed
    Column("passed", Boolean),
    Column("details", JSONText, nullable=False),
    Column("tags", JSONText, nullable=False),
    Column("tokens_in", Integer),
    Column("tokens_out", Integer),
    Column("latency_ms", Float),
    Column("cached", Boolean, nullable=False),
    Column("error", Text),
)

# Model answers by sha256(adapter, model, params, input, sample): a re-run asks nothing twice.
eval_cache = Table(
    "eval_cache",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("model", String(256), nullable=False),
    Column("output", Text, nullable=False),
    Column("tokens_in", Integer),
    Column("tokens_out", Integer),
    Column("latency_ms", Float),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One blind battle: a prompt and two models' outputs (from eval runs), shown as A and B; the vote
# lands on the same row (one vote per battle).
arena_battles = Table(
    "arena_battles",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("record_id", String(32), nullable=False),
    Column("prompt", JSONText, nullable=False),
    Column("model_a", String(256), nullable=False),
    Column("model_b", String(256), nullable=False),
    Column("output_a", Text, nullable=False),
    Column("output_b", Text, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("winner", String(16)),  # a, b, tie, both_bad; null until voted
    Column("reason", Text),
    Column("voted_at", DateTime(timezone=True)),
    Index("ix_arena_battles_project_voted", "project_id", "voted_at"),
)

# -- training (thresher.train): stages, training runs ---------------------------------------------

# A stage is a model in a project's chain (base -> sft -> reward -> dpo ...): a local folder or an
# OpenAI-compatible endpoint, with its parent stage and the training run that made it (if any).
stages = Table(
    "stages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("parent_id", Integer, ForeignKey("stages.id", ondelete="SET NULL")),
    Column("model_path", Text),
    Column("endpoint", Text),
    Column("endpoint_model", String(256)),
    Column("run_id", String(32)),
    Column("description", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("project_id", "name", name="uq_stages_project_name"),
)

training_runs = Table(
    "training_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("method", String(16), nullable=False),
    Column("recipe", JSONText, nullable=False),
    Column("base_model", Text, nullable=False),
    Column("base_stage", String(128)),
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="SET NULL")),
    Column("version_id", Integer, ForeignKey("dataset_versions.id", ondelete="SET NULL")),
    Column("dataset", String(300), nullable=False),
    Column("version", String(128), nullable=False),
    Column("manifest_hash", String(64), nullable=False),
    Column("export_sha256", String(64)),
    Column("seed", Integer, nullable=False),
    Column("libraries", JSONText, nullable=False),
    Column("status", String(16), nullable=False),
    Column("metrics", JSONText, nullable=False),
    Column("loss_curve", JSONText, nullable=False),
    Column("output_path", Text, nullable=False),
    Column("checkpoint", Text),
    Column("step", Integer, nullable=False),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_training_runs_project", "project_id", "created_at"),
)
