"""A deterministic OpenAI-compatible chat-completions server, for tests, benchmarks and the demo.

    python -m thresher.evals.fake_server --port 8601 --latency-ms 50 --error-rate 0.0 \\
        --answers answers.json --model base=0.4 --model sft=0.8

or in-process (a thread with its own event loop)::

    with FakeModelServer(latency_ms=50, answers={...}, accuracy={"base": 0.4}) as srv:
        srv.url  # http://127.0.0.1:PORT/v1

What it answers to the last user message of a request:

- with an answer key (``answers``: the user message text -> the right answer), a model of
  accuracy ``p`` gives the right answer on a fixed fraction ``p`` of the prompts (chosen by a
  hash of the prompt, so the same prompt always gets the same answer, and a better model is right
  wherever a worse one is) and a wrong one
  (its last number plus one) on the others;
- without one, ``"echo: <the message>"``.

Faults: ``error_rate`` answers that fraction of requests with a 500 (seeded, reproducible);
``fail_first`` answers the first N requests for each prompt with a 503, so a retry succeeds.
``latency_ms`` delays every answer: it is sent that long after the request reached the handler
(the answer is built before the wait, so the fake's own work is inside the latency, not added to
it). ``requests`` counts the completions requested, ``max_in_flight`` the most answered at once;
``/stats`` also gives the server's CPU time and how late its answers were (timer overshoot), so
a benchmark can check the server is not its bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

__all__ = ["FakeModelServer", "fake_answer"]


_LAST_NUMBER = re.compile(r"\d+(?!.*\d)", re.DOTALL)
_LAST_LETTER = re.compile(r"\b[A-D]\b(?!.*\b[A-D]\b)", re.DOTALL)


def _unit(prompt: str) -> float:
    """A number in [0, 1) fixed by the prompt: a model of accuracy p is right where it is below p,
    so a more accurate model is right on every prompt a less accurate one is."""
    h = hashlib.blake2b(prompt.encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def fake_answer(model: str, prompt: str, answers: Mapping[str, str], accuracy: Mapping[str, float]) -> str:
    """What the server answers ``model`` for the user message ``prompt`` (deterministic)."""
    right = answers.get(prompt.strip())
    if right is None:
        return f"echo: {prompt}"
    p = accuracy.get(model, accuracy.get("*", 1.0))
    return right if _unit(prompt) < p else _wrong(right)


def _wrong(right: str) -> str:
    """A wrong answer near the right one: its last number plus one, else its last option letter
    moved on by one (``Answer: B`` -> ``Answer: C``), else a negation."""
    m = _LAST_NUMBER.search(right)
    if m is not None:
        return right[: m.start()] + str(int(m.group(0)) + 1) + right[m.end() :]
    m = _LAST_LETTER.search(right)
    if m is not None:
        letter = chr((ord(m.group(0)) - ord("A") + 1) % 4 + ord("A"))
        return right[: m.start()] + letter + right[m.end() :]
    return f"not {right}"


class FakeModelServer:
    """The server; ``start()`` runs it in a daemon thread, ``serve()`` in the caller's loop."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        error_rate: float = 0.0,
        fail_first: int = 0,
        answers: Mapping[str, str] | None = None,
        accuracy: Mapping[str, float] | None = None,
        seed: int = 0,
    ) -> None:
        self.host, self.port = host, port
        self.latency = latency_ms / 1000
        self.error_rate = error_rate
        self.fail_first = fail_first
        self.answers = {k.strip(): v for k, v in (answers or {}).items()}
        self.accuracy = dict(accuracy or {})
        self.requests = 0
        self.errors = 0
        self.in_flight = self.max_in_flight = 0
        self.late_s = self.max_late_s = 0.0  # answers sent after their deadline: summed, worst
        self._seen: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        """The OpenAI base URL (``.../v1``)."""
        return f"http://{self.host}:{self.port}/v1"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/stats", self._stats)
        return app

    async def _models(self, request: web.Request) -> web.Response:
        data = [{"id": m, "object": "model", "owned_by": "thresher-fake"} for m in sorted(self.accuracy) or ["fake"]]
        return web.json_response({"object": "list", "data": data})

    async def _stats(self, request: web.Request) -> web.Response:
        n = max(1, self.requests)
        stats = {
            "requests": self.requests,
            "errors": self.errors,
            "cpu_s": time.process_time(),  # the whole process's: run in its own process to read it alone
            "late_ms_mean": round(1000 * self.late_s / n, 3),
            "late_ms_max": round(1000 * self.max_late_s, 3),
        }
        return web.json_response(stats)

    async def _complete(self, request: web.Request) -> web.Response:
        deadline = time.perf_counter() + self.latency
        try:
            body = orjson.loads(await request.read())
            model = str(body["model"])
            messages = body["messages"]
            prompt = next((_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return _error(400, "invalid_request_error", "expected a JSON body with model and messages")
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = self._answer(model, prompt, messages)
            if self.latency:
                await asyncio.sleep(max(0.0, deadline - time.perf_counter()))
                late = time.perf_counter() - deadline
                self.late_s += late
                self.max_late_s = max(self.max_late_s, late)
        finally:
            self.in_flight -= 1
        return response

    def _answer(self, model: str, prompt: str, messages: list[Any]) -> web.Response:
        if self.fail_first and self._seen[prompt] < self.fail_first:
            self._seen[prompt] += 1
            self.errors += 1
            return _error(503, "overloaded", "try again")
        if self.error_rate and self._rng.random() < self.error_rate:
            self.errors += 1
            return _error(500, "server_error", "injected fault")
        text = fake_answer(model, prompt, self.answers, self.accuracy)
        n_in = sum(len(_text(m).split()) for m in messages)
        n_out = len(text.split())
        payload = {
            "id": "chatcmpl-" + hashlib.blake2b(f"{model}{prompt}".encode(), digest_size=8).hexdigest(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out},
        }
        return web.Response(body=orjson.dumps(payload), content_type="application/json")

    async def serve(self) -> None:
        """Bind and serve until cancelled (in the caller's event loop)."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        await site.start()
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])
        self._ready.set()
        try:
            await asyncio.Event().wait()
        finally:
            await self._runner.cleanup()

    def start(self) -> FakeModelServer:
        """Serve in a daemon thread; returns once the port is bound."""

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            task = self._loop.create_task(self.serve())
            try:
                self._loop.run_until_complete(task)
            except asyncio.CancelledError:
                pass
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-model-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake model server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            loop = self._loop
            loop.call_soon_threadsafe(lambda: [t.cancel() for t in asyncio.all_tasks(loop)])
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> FakeModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _text(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _error(status: int, kind: str, message: str) -> web.Response:
    body = {"error": {"message": message, "type": kind, "code": status}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="A deterministic OpenAI-compatible chat-completions server.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8601)
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--error-rate", type=float, default=0.0)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--answers", help="a JSON file: {user message: right answer}")
    p.add_argument("--model", action="append", default=[], help="NAME=ACCURACY (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    answers = orjson.loads(Path(args.answers).read_bytes()) if args.answers else {}
    accuracy = {name: float(acc) for name, _, acc in (m.partition("=") for m in args.model)}
    server = FakeModelServer(
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        fail_first=args.fail_first,
        answers=answers,
        accuracy=accuracy,
        seed=args.seed,
    )
    print(f"serving on {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve())


if __name__ == "__main__":
    main()
