"""Feedback and picks on long sessions make the records their definition says, whichever way the
store builds them (from the session's current record, or from all its turns after a late retry)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from thresher.model import CaptureBatch
from thresher.model.content import ComparisonContent, ConversationContent
from thresher.model.record import content_hash
from thresher.store import Store
from thresher.store import tables as t

CANDIDATES = [
    {"id": "a", "messages": [{"role": "assistant", "content": "short"}], "model": "m1"},
    {"id": "b", "messages": [{"role": "assistant", "content": "longer  "}], "model": "m2"},
]


def message(i: int) -> dict[str, Any]:
    """Turn i of the session: user on even turns, assistant on odd ones, a tool round at 20-22."""
    if i == 21:
        return {"role": "assistant", "tool_calls": [{"id": "call-1", "name": "lookup", "arguments": {"q": "x"}}]}
    if i == 22:
        return {"role": "tool", "tool_call_id": "call-1", "content": "found it"}
    role = "user" if i % 2 == 0 else "assistant"
    return {"role": role, "content": f"  turn {i}: café {'word ' * (i % 7)} "}


class Session:
    """What the session holds: (client time, arrival, turn id, message) of each turn."""

    def __init__(self) -> None:
        self.turns: list[tuple[float, int, str, dict[str, Any]]] = []

    def add(self, ts: float, tid: str, msg: dict[str, Any]) -> dict[str, Any]:
        self.turns.append((ts, len(self.turns), tid, msg))
        return {"type": "turn", "id": tid, "session_id": "long", "timestamp": ts, "message": msg}

    def ordered(self) -> list[tuple[str, dict[str, Any]]]:
        return [(tid, msg) for _, _, tid, msg in sorted(self.turns, key=lambda x: (x[0], x[1]))]

    def up_to(self, turn_id: str | None) -> list[dict[str, Any]] | None:
        """The conversation a feedback on ``turn_id`` (None: the last assistant turn) rates."""
        turns = self.ordered()
        hits = [i for i, (tid, m) in enumerate(turns) if m["role"] == "assistant" and turn_id in (None, tid)]
        return [m for _, m in turns[: hits[-1] + 1]] if hits else None


def conversation_hash(messages: list[dict[str, Any]]) -> str:
    return content_hash(ConversationContent.model_validate({"kind": "conversation", "messages": messages}))


def test_feedback_and_picks_on_a_150_turn_session_make_the_defined_records(store: Store) -> None:
    store.create_project("long")
    session = Session()
    expected: dict[str, tuple[str, list[dict[str, Any]]] | None] = {}  # event id -> (hash, messages)
    n = 0
    for start in range(0, 150, 10):
        before = session.up_to(None)  # what a feedback sent ahead of this batch's turns rates
        events = [session.add(float(i), f"t{i}", message(i)) for i in range(start, start + 10)]
        named_ahead = session.up_to(f"t{start + 3}")  # the session once t{start+3} is in, before the late turn
        if start == 100:  # a late retry of a turn between 50 and 51: the session is rebuilt in client order
            events.append(session.add(50.5, "late", {"role": "assistant", "content": "a late answer"}))
        later: list[dict[str, Any]] = []
        for turn_id in (None, f"t{start + 3}", f"t{max(start - 29, 1)}", f"t{start}", "late"):
            n += 1
            later.append({"type": "feedback", "id": f"f{n}", "session_id": "long", "turn_id": turn_id, "thumbs": "up"})
        n += 1
        pick = {"type": "preference", "id": f"p{n}", "session_id": "long", "candidates": CANDIDATES, "chosen": "b"}
        later.append(pick)
        # Feedback sent ahead of the turns, in the same request: one naming a turn finds it; one
        # that names none rates the last answer before it (or, with none yet, the first after).
        ahead = start % 20 == 0
        batch = later[:2] + events + later[2:] if ahead else events + later
        store.capture.apply("long", CaptureBatch.model_validate({"events": batch}).events)
        for e in later:
            if e["type"] == "feedback":
                msgs = session.up_to(e["turn_id"])
                if ahead and e is later[0]:
                    msgs = before if before is not None else session.up_to(f"t{start + 1}")
                elif ahead and e is later[1]:
                    msgs = named_ahead
                expected[e["id"]] = (conversation_hash(msgs), msgs) if msgs is not None else None
            else:
                prompt = [m for _, m in session.ordered()]
                comparison = {"kind": "comparison", "prompt": prompt, "candidates": CANDIDATES}
                expected[e["id"]] = (content_hash(ComparisonContent.model_validate(comparison)), prompt)

    # Feedback naming a turn not there yet waits for it, and is applied once the session grows.
    for k in range(10):
        msgs = session.up_to("late")
        assert msgs is not None
        expected[f"f{5 + 6 * k}"] = (conversation_hash(msgs), msgs)
    ce, r = t.capture_events, t.records
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(ce.c.client_id, r.c.content_hash, r.c.content)
            .select_from(ce.outerjoin(r, r.c.id == ce.c.record_id))
            .where(ce.c.type.in_(("feedback", "preference")))
        ).all()
        session_record = conn.execute(
            select(r.c.content).where(r.c.id.in_(select(ce.c.record_id).where(ce.c.type == "turn")))
        ).all()
    got: dict[str, tuple[str, list[dict[str, Any]]] | None] = {}
    for row in rows:
        if row.content_hash is None:
            got[row.client_id] = None
            continue
        content = orjson.loads(row.content)
        got[row.client_id] = (row.content_hash, content.get("messages", content.get("prompt")))
    assert len(expected) == 90 and got.keys() == expected.keys()
    # Every record has the defined content (messages as sent, dumped) and content hash; those on a
    # user turn made none; and several feedback events agree on one record where they rate the same turn.
    for eid, want in expected.items():
        assert got[eid] == want, eid
    assert sum(v is None for v in got.values()) == 15  # feedback on f"t{start}", a user turn: no record
    # The session's own record is all 151 turns in client order.
    (only,) = session_record
    assert orjson.loads(only.content)["messages"] == [m for _, m in session.ordered()]
