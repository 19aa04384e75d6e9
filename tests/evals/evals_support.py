"""Helpers and fixtures shared by the eval tests, imported by name (the tests folder is not a package;
a conftest.py here would shadow the top-level one that other test folders import as ``conftest``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from thresher.evals.fake_server import FakeModelServer
from thresher.evals.suites import Suite
from thresher.model import EvalItemContent, GradingRule, Message, Record
from thresher.store import Store

QUESTIONS = {f"What is {i} plus {i + 1}?": str(2 * i + 1) for i in range(40)}


def arithmetic_records() -> list[Record]:
    return [
        Record(
            content=EvalItemContent(
                input=[Message(role="user", content=q)], reference=a, grader=GradingRule(type="numeric")
            ),
            metadata={"tags": ["arith", "even" if int(a) % 4 == 1 else "odd"]},
            task_type="closed_qa",
        )
        for q, a in QUESTIONS.items()
    ]


def make_suite(store: Store, project: str = "p", name: str = "arith") -> Suite:
    store.ensure_project(project)
    ds = store.ensure_dataset(project, name)
    store.add_records(ds, arithmetic_records())
    return Suite(ds, store.create_version(ds, "v1"))


def sync_agent(messages: list[dict[str, object]], params: dict[str, object]) -> str:
    """A system under test as a plain function (for `callable:evals_support:sync_agent`)."""
    return f"sync:{messages[-1]['content']}"


@pytest.fixture
def suite(store: Store) -> Suite:
    return make_suite(store)


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    """Answers the arithmetic questions: model `good` always right, `half` on about half, `bad` never."""
    answers = {q: f"The answer is {a}." for q, a in QUESTIONS.items()}
    with FakeModelServer(answers=answers, accuracy={"good": 1.0, "half": 0.5, "bad": 0.0}) as srv:
        yield srv
