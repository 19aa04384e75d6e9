"""Annotation workflow: queues by skill and language, overlap, leases, drafts, skips, review,
agreement, consensus and throughput. Above ``thresher.store``; the server's routers call it."""

from thresher.annotate.agreement import PairAgreement, QuestionAgreement
from thresher.annotate.consensus import Votes, consensus
from thresher.annotate.progress import AnnotatorStats, Progress, dataset_agreement, progress
from thresher.annotate.queue import (
    Task,
    amend,
    get_workflow,
    next_task,
    save_draft,
    set_workflow,
    skip,
    submit,
    sync,
    task_of,
)
from thresher.annotate.review import (
    ReviewItem,
    consensus_responses,
    decide,
    record_consensus,
    review_item,
    review_next,
)
from thresher.annotate.workflow import ConsensusRule, RoutingRule, Workflow, default_rule

__all__ = [
    "AnnotatorStats",
    "ConsensusRule",
    "PairAgreement",
    "Progress",
    "QuestionAgreement",
    "ReviewItem",
    "RoutingRule",
    "Task",
    "Votes",
    "Workflow",
    "amend",
    "consensus",
    "consensus_responses",
    "dataset_agreement",
    "decide",
    "default_rule",
    "get_workflow",
    "next_task",
    "progress",
    "record_consensus",
    "review_item",
    "review_next",
    "save_draft",
    "set_workflow",
    "skip",
    "submit",
    "sync",
    "task_of",
]
