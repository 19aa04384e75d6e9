"""Demo work for authoring from scratch (``make demo``): briefs to write conversations from, agent
tasks to write trajectories for, agent runs with alternatives at some steps to pick from, and
scripts to record. Queued for the demo annotators like the rest of the annotation demo."""

from __future__ import annotations

from typing import Any

from thresher.annotate.queue import set_workflow
from thresher.annotate.workflow import Workflow
from thresher.errors import Conflict
from thresher.model import (
    TASK_TYPES,
    ChoiceQuestion,
    ConversationQuestion,
    Dataset,
    Question,
    Record,
    RecordingQuestion,
    StepPreferenceQuestion,
    TrajectoryQuestion,
)
from thresher.store import Store

_ROUTE = {"skill": "general", "language": "en"}

CHAT_GUIDELINES = """# Writing a conversation

- Follow the brief on the left: who the user is and what they want.
- Play both roles. The user writes as people do (short, sometimes vague); the assistant answers as
  a careful expert would, and asks back when the request is ambiguous.
- `Alt+Enter` adds the next turn, `Alt+R` switches a turn's role, `Alt+X` removes it.
- Then pick the task type, the domain and the language.
"""

TRAJECTORY_GUIDELINES = """# Writing an agent trajectory

- Start with a short plan (`p`), then the tool calls (`t`) with their arguments as JSON, the
  results you expect (`o`), and a message to the user (`m`).
- Call only the tools the task offers; `f` writes the final answer.
"""

PREFERENCE_GUIDELINES = """# Picking the better step

- At each step marked *choose*, pick the output a careful agent should have produced: `1` is the
  one it took, `2`… the alternatives.
- Prefer steps that make progress safely; say why with `r` when it is not obvious.
"""

RECORDING_GUIDELINES = """# Recording a script

- Use a quiet room and a headset microphone; keep the meter in its middle range.
- `r` starts and stops a take, `p` plays it back. Retake as often as needed and keep the best (`1`…`9`).
- Read the script exactly as written, in the emotion the tags say.
"""

BRIEFS = [
    "Write a chat where a home cook asks how to keep pasta from sticking, then follows up twice.",
    "Write a chat where a student asks for help understanding recursion, with an example in Python.",
    "Écrivez une conversation où quelqu'un demande comment préparer un entretien d'embauche.",
]

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {"name": "search", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
    },
    {
        "type": "function",
        "function": {
            "name": "book",
            "parameters": {"type": "object", "properties": {"place": {"type": "string"}, "party": {"type": "integer"}}},
        },
    },
]

AGENT_TASKS = [
    "Book a table for two at Sushi Ko tomorrow at 8pm.",
    "Find a vegetarian restaurant near the station and book it for four on Friday.",
]

RUNS: list[dict[str, Any]] = [
    {
        "kind": "agent_run",
        "task": "Book a table for two at Sushi Ko at 8pm",
        "tools": TOOLS,
        "steps": [
            {"type": "plan", "content": "Search for the restaurant, then book it."},
            {
                "type": "tool_call",
                "tool_call": {"id": "k1", "name": "search", "arguments": {"q": "Sushi Ko"}},
                "alternatives": [
                    {"id": "b", "tool_call": {"name": "search", "arguments": {"q": "Sushi Ko opening hours 8pm"}}},
                    {"id": "c", "content": "Which city is Sushi Ko in?", "model": "agent-small"},
                ],
            },
            {"type": "tool_result", "tool_call_id": "k1", "content": "Sushi Ko, 12 Main St, open 18:00-23:00"},
            {
                "type": "tool_call",
                "tool_call": {"id": "k2", "name": "book", "arguments": {"place": "Sushi Ko"}},
                "alternatives": [
                    {"id": "b", "tool_call": {"name": "book", "arguments": {"place": "Sushi Ko", "party": 2}}}
                ],
            },
            {"type": "tool_result", "tool_call_id": "k2", "content": "400: missing party size", "is_error": True},
            {"type": "message", "content": "Your table is booked!"},
        ],
        "outcome": {"status": "failure"},
    },
    {
        "kind": "agent_run",
        "task": "Summarize the three newest support tickets for the on-call engineer",
        "steps": [
            {"type": "reasoning", "content": "I need the tickets first."},
            {
                "type": "message",
                "content": "Here is a summary: all three tickets are about login failures since 09:00.",
                "alternatives": [
                    {"id": "b", "content": "Three tickets: login failures since 09:00 (2), a billing question (1)."},
                    {"id": "c", "content": "I could not read the tickets; please paste them."},
                ],
            },
        ],
        "outcome": {"status": "success"},
    },
]

SCRIPTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Your order has shipped and should arrive on Thursday.",
    "I can't believe we actually won the match!",
    "Please hold while I transfer you to a specialist.",
]


def _seeded(
    store: Store, project: str, name: str, guidelines: str, questions: list[Question], records: list[Record]
) -> Dataset:
    try:
        ds = store.create_dataset(project, name, guidelines=guidelines, questions=questions)
    except Conflict:  # seeded before: leave it as it is
        return store.get_dataset(project, name)
    store.add_records(ds, records)
    set_workflow(store, ds, Workflow(overlap=1, review="all"))
    return ds


def _records(contents: list[dict[str, Any]]) -> list[Record]:
    return [Record.model_validate({"content": c, "metadata": _ROUTE}) for c in contents]


def seed_demo_authoring(store: Store, project: str) -> list[Dataset]:
    """The four authoring datasets of the demo, with their records queued; returns them."""
    chat = _seeded(
        store,
        project,
        "demo-write-chat",
        CHAT_GUIDELINES,
        [
            ConversationQuestion(name="chat", title="Write the conversation the brief asks for"),
            ChoiceQuestion(name="task_type", title="Task type", options=list(TASK_TYPES), rationale="none"),
            ChoiceQuestion(
                name="domain", title="Domain", options=["cooking", "education", "careers", "other"], rationale="none"
            ),
            ChoiceQuestion(name="language", title="Language", options=["en", "fr", "de", "es"], rationale="none"),
        ],
        _records([{"kind": "text", "text": b} for b in BRIEFS]),
    )
    trajectory = _seeded(
        store,
        project,
        "demo-write-trajectory",
        TRAJECTORY_GUIDELINES,
        [TrajectoryQuestion(name="trajectory", title="Write the agent's steps and final answer")],
        _records([{"kind": "agent_run", "task": t, "tools": TOOLS} for t in AGENT_TASKS]),
    )
    preference = _seeded(
        store,
        project,
        "demo-step-preference",
        PREFERENCE_GUIDELINES,
        [StepPreferenceQuestion(name="preferred", title="Which output is better at each step?")],
        _records(RUNS),
    )
    speech = _seeded(
        store,
        project,
        "demo-record-speech",
        RECORDING_GUIDELINES,
        [
            RecordingQuestion(
                name="take",
                title="Read the script aloud",
                tags={"emotion": ["neutral", "happy", "sad", "angry"], "style": ["conversational", "announcer"]},
                min_seconds=1,
                max_seconds=20,
            )
        ],
        _records([{"kind": "text", "text": s} for s in SCRIPTS]),
    )
    return [chat, trajectory, preference, speech]
