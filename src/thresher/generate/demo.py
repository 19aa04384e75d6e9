"""The demo's generate -> rank -> DPO path.

``run_demo_generate(store, project)`` stores a few prompts in ``demo-prompts``, starts the
deterministic model server in-process with two models (``small``, slightly wrong on every prompt;
``large``, right on all), generates one candidate from each per prompt into ``demo-generated``
(comparisons with a ranking question, queued for annotation). A user then ranks the candidates
in the web app and exports DPO pairs:

    thresher export demo/demo-generated --format trl-preference --out dpo.jsonl --home demo-out/home
"""

from __future__ import annotations

from typing import Any

from thresher.annotate.queue import sync
from thresher.evals.adapters.openai import OpenAIAdapter
from thresher.evals.fake_server import FakeModelServer
from thresher.generate._calls import ModelChoice
from thresher.generate.candidates import CandidateOptions, generate_candidates
from thresher.model import ConversationContent, Message, Record
from thresher.store import Store

__all__ = ["DEMO_PROMPTS", "SOURCE", "TARGET", "run_demo_generate"]

# (prompt, the right answer, task type): the server answers from this key; ``small`` is always
# a little wrong (its answer's last number off by one), so every pair has a better candidate.
DEMO_PROMPTS = (
    ("How many legs do three spiders have in total?", "Each spider has 8 legs, so 3 spiders have 24.", "open_qa"),
    ("A train leaves at 14:00 and takes 95 minutes. When does it arrive?", "It arrives at 15:35.", "open_qa"),
    (
        "Summarize: the meeting moved from Monday to Wednesday at 10.",
        "The meeting is now Wednesday at 10.",
        "summarization",
    ),
    (
        "Rewrite politely: send me the report in 2 days.",
        "Could you send me the report in 2 days?",
        "rewrite",
    ),
    ("How many minutes are in 4 hours?", "4 hours are 240 minutes.", "closed_qa"),
    ("Give 3 names for a bakery.", "1. Crumb & Co. 2. Rise Up 3. The Daily Loaf", "brainstorming"),
    (
        "Classify the sentiment of 'I loved it, 10 out of 10': positive or negative?",
        "Positive, rated 10.",
        "classification",
    ),
    ("Extract the year from: 'Founded in 1998 in Oslo.'", "The year is 1998.", "extraction"),
)
SOURCE, TARGET = "demo-prompts", "demo-generated"


def run_demo_generate(store: Store, project: str) -> dict[str, Any]:
    """Build the demo's generated datasets; returns what the console shows."""
    prompts = store.ensure_dataset(project, SOURCE)
    store.add_records(
        prompts,
        [
            # Chats, not eval items: a training export leaves out whatever matches an eval item.
            Record(
                content=ConversationContent(messages=[Message(role="user", content=q)]),
                task_type=task,
                metadata={"demo": "generate"},
            )
            for q, a, task in DEMO_PROMPTS
        ],
    )
    answers = {q: a for q, a, _ in DEMO_PROMPTS}
    with FakeModelServer(latency_ms=5, answers=answers, accuracy={"small": 0.0, "large": 1.0}) as server:
        models = [
            ModelChoice(OpenAIAdapter(server.url, "small", concurrency=8), {"temperature": 0.7}, 1),
            ModelChoice(OpenAIAdapter(server.url, "large", concurrency=8), {"temperature": 0.7}, 1),
        ]
        target = store.ensure_dataset(project, TARGET)
        generated = generate_candidates(store, prompts, target, models, CandidateOptions(concurrency=8))
    sync(store, store.get_dataset(project, TARGET))  # into the annotation queue
    return {
        "prompts": len(DEMO_PROMPTS),
        "comparisons": generated.written + generated.duplicates,
        "candidates": generated.candidates,
        "version": generated.version,
        "calls": generated.calls,
    }
