"""Capture's CPU cost per event at the store, on long sessions: no server, no HTTP, one thread.

    .venv/bin/python benchmarks/capture_store_cpu.py                      # ~100-turn sessions
    .venv/bin/python benchmarks/capture_store_cpu.py --picks-in-session   # picks use the session as prompt

The events are those ``capture_load.py`` sends (60% turns, 20% feedback on the session's last
answer, 10% picks, 10% whole agent runs), built as the SDK builds them, in requests of
``--batch`` events, applied with ``Store.capture.apply`` on a fresh SQLite store. Sessions are
first grown to ``--turns`` turns (not measured); the measured requests then grow them by about
a third more. Prints this thread's CPU ms per event (``time.thread_time``: waits excluded).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from thresher.model import CaptureBatch
from thresher.store import Store


class Mix:
    """capture_load.py's ``events_for`` as event dicts (what the SDK sends)."""

    def __init__(self, sessions: int, picks_in_session: bool, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.sessions = [f"s{i}" for i in range(sessions)]
        self.picks_in_session = picks_in_session
        self.i = 0
        self.clock = 1.0e9

    def _base(self, type_: str) -> dict[str, Any]:
        self.i += 1
        self.clock += 0.001
        return {"type": type_, "id": f"e{self.i}", "timestamp": self.clock}

    def turn(self, sid: str) -> dict[str, Any]:
        role = "user" if self.i % 2 == 0 else "assistant"
        text = f"Tell me about item {self.i}. " * self.rng.randrange(2, 12)
        e = self._base("turn")
        return {**e, "session_id": sid, "model": "m-7b", "message": {"role": role, "content": text}}

    def event(self) -> dict[str, Any]:
        sid = self.rng.choice(self.sessions)
        k = self.rng.random()
        if k < 0.6:
            return self.turn(sid)
        if k < 0.8:
            thumbs = self.rng.choice(["up", "down"])
            return {**self._base("feedback"), "session_id": sid, "thumbs": thumbs, "comment": "auto"}
        if k < 0.9:
            candidates = [
                {"id": "0", "messages": [{"role": "assistant", "content": "short answer"}]},
                {"id": "1", "messages": [{"role": "assistant", "content": f"a longer answer {self.i}"}]},
            ]
            e = {**self._base("preference"), "candidates": candidates, "chosen": str(self.rng.randrange(2))}
            e["reason"] = "clearer"
            if self.picks_in_session:
                e["session_id"] = sid
            return e
        e = self._base("agent_run")
        return {
            **e,
            "run_id": f"r{self.i}",
            "task": f"task {self.i}",
            "steps": [{"type": "message", "content": "done"}],
            "outcome": {"status": "success"},
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--turns", type=int, default=80, help="turns each session has before the measured part")
    ap.add_argument("--requests", type=int, default=80, help="measured requests")
    ap.add_argument("--batch", type=int, default=30, help="events a request")
    ap.add_argument("--picks-in-session", action="store_true", help="picks name the session and have no prompt")
    args = ap.parse_args()

    mix = Mix(args.sessions, args.picks_in_session)
    with tempfile.TemporaryDirectory(prefix="capture-cpu-") as home:
        store = Store.open(Path(home))
        store.create_project("bench")
        warm = [mix.turn(sid) for _ in range(args.turns) for sid in mix.sessions]
        for i in range(0, len(warm), 200):
            store.capture.apply("bench", CaptureBatch.model_validate({"events": warm[i : i + 200]}).events)
        cpu, events = 0.0, 0
        for _ in range(args.requests):
            batch = CaptureBatch.model_validate({"events": [mix.event() for _ in range(args.batch)]}).events
            start = time.thread_time()
            store.capture.apply("bench", batch)
            cpu += time.thread_time() - start
            events += len(batch)
        store.close()
    mean_turns = args.turns + 0.6 * events / args.sessions / 2
    print(
        f"{events} events in {args.requests} requests of {args.batch}, sessions ~{mean_turns:.0f} turns on average"
        f"{' (picks in session)' if args.picks_in_session else ''}: {1000 * cpu / events:.3f} ms CPU per event"
    )


if __name__ == "__main__":
    main()
