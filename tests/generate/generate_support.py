"""Helpers shared by the generate tests (imported by name: the tests folder is not a package)."""

from __future__ import annotations

from thresher.model import (
    ConversationContent,
    EvalItemContent,
    GradingRule,
    Message,
    Record,
    TextContent,
)
from thresher.store import Store

ARITH = {f"What is {i} times 3?": str(3 * i) for i in range(30)}


def prompt_records(n: int) -> list[Record]:
    """n prompts: conversations ending in a user turn, plain texts, and a two-turn chat whose
    last assistant answer is what the candidates replace."""
    out: list[Record] = []
    for i in range(n):
        if i % 3 == 0:
            content = TextContent(text=f"Write a haiku about the number {i}.")
        elif i % 3 == 1:
            content = ConversationContent(messages=[Message(role="user", content=f"Explain idea number {i}.")])
        else:
            content = ConversationContent(
                messages=[
                    Message(role="system", content="Be brief."),
                    Message(role="user", content=f"Name a colour ({i})."),
                    Message(role="assistant", content="Blue."),
                ]
            )
        out.append(Record(content=content, task_type="generation", metadata={"n": i}))
    return out


def arith_items() -> list[Record]:
    return [
        Record(
            content=EvalItemContent(
                input=[Message(role="user", content=q)], reference=a, grader=GradingRule(type="numeric")
            ),
            task_type="closed_qa",
        )
        for q, a in ARITH.items()
    ]


def make_dataset(store: Store, name: str, records: list[Record], project: str = "p") -> None:
    store.ensure_project(project)
    ds = store.ensure_dataset(project, name)
    store.add_records(ds, records)
