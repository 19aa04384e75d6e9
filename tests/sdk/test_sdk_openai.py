"""wrap_openai records what an OpenAI-compatible client sends and gets back, once per turn.

The fake client below has the shape of ``openai.OpenAI`` (``chat.completions.create``), with
responses as plain objects; ``openai`` itself is not needed."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace as NS
from typing import Any

import pytest
from sdk_support import Home, by_meta

from live_server import ServerProcess
from thresher.model import ConversationContent
from thresher.sdk import AsyncClient, Client, wrap_openai


class FakeCompletions:
    def __init__(self, replies: list[Any]) -> None:
        self.replies = replies
        self.calls: list[dict[str, Any]] = []

    def create(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        reply = self.replies.pop(0)
        if kwargs.get("stream"):
            return iter(reply)
        return NS(id="cmpl-1", model="gpt-fake-0613", choices=[NS(index=0, message=reply, finish_reason="stop")])


class FakeAsyncCompletions(FakeCompletions):
    async def create(self, **kwargs: Any) -> Any:
        result = super().create(**kwargs)
        if kwargs.get("stream"):
            chunks = list(result)

            async def gen() -> AsyncIterator[Any]:
                for c in chunks:
                    yield c

            return gen()
        return result


class FakeOpenAI:
    def __init__(self, completions: FakeCompletions) -> None:
        self.chat = NS(completions=completions)
        self.models = NS(list=lambda: ["gpt-fake"])


def assistant(content: str | None, tool_calls: list[Any] | None = None) -> Any:
    return NS(role="assistant", content=content, tool_calls=tool_calls, refusal=None)


def chunk(content: str | None = None, tool_calls: list[Any] | None = None) -> Any:
    return NS(model="gpt-fake-stream", choices=[NS(index=0, delta=NS(content=content, tool_calls=tool_calls))])


def conversation(home: Home, session_id: str) -> list[tuple[str, str]]:
    [rec] = by_meta(home.records("conversation"), "session_id", session_id)
    assert isinstance(rec.content, ConversationContent)
    return [(m.role, m.text() or ",".join(c.name for c in m.tool_calls or [])) for m in rec.content.messages]


@pytest.fixture
def client(server: ServerProcess, home: Home) -> Iterator[Client]:
    with Client(server.url, home.app_key, flush_interval=0.05) as c:
        yield c


def test_a_growing_history_is_recorded_once(client: Client, home: Home) -> None:
    call = NS(id="call_1", type="function", function=NS(name="weather", arguments='{"city": "Oslo"}'))
    fake = FakeOpenAI(FakeCompletions([assistant("Hello!"), assistant(None, [call]), assistant("Snowy, -3C.")]))
    s = uuid.uuid4().hex
    oa = wrap_openai(fake, client, session_id=s)
    messages: list[Any] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    r1 = oa.chat.completions.create(model="gpt-fake", messages=messages, temperature=0.3)
    assert r1.choices[0].message.content == "Hello!"  # the app gets the real response back
    messages += [r1.choices[0].message, {"role": "user", "content": "Weather in Oslo?"}]
    r2 = oa.chat.completions.create(model="gpt-fake", messages=messages, tools=[{"type": "function"}])
    tool_call = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}
    messages += [{"role": "assistant", "content": None, "tool_calls": [tool_call]}]
    messages += [{"role": "tool", "tool_call_id": "call_1", "content": "-3C, snow"}]
    oa.chat.completions.create(model="gpt-fake", messages=messages, temperature=0.0, max_tokens=50)
    assert r2.choices[0].message.tool_calls[0].function.name == "weather"
    assert oa.models.list() == ["gpt-fake"] and oa.session_id == s  # the rest passes through
    assert client.flush(timeout=20) and client.failed == 0
    assert conversation(home, s) == [
        ("system", "Be brief."),
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "Weather in Oslo?"),
        ("assistant", "weather"),
        ("tool", "-3C, snow"),
        ("assistant", "Snowy, -3C."),
    ]
    [rec] = by_meta(home.records("conversation"), "session_id", s)
    assert rec.source.model == "gpt-fake-0613"  # the model that answered, as the response names it
    assert rec.metadata["params"] == {"temperature": 0.0, "max_tokens": 50}


def test_streamed_responses_are_recorded_when_read(client: Client, home: Home) -> None:
    stream = [chunk("Hel"), chunk("lo"), chunk(None), chunk("!")]
    fake = FakeOpenAI(FakeCompletions([stream]))
    oa = wrap_openai(fake, client)
    hi = f"Hi, I am {oa.session_id}"  # content unique to this test: the dataset keeps one record per content
    out = oa.chat.completions.create(model="m", messages=[{"role": "user", "content": hi}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in out) == "Hello!"
    assert client.flush(timeout=20)
    assert conversation(home, oa.session_id) == [("user", hi), ("assistant", "Hello!")]


def test_async_clients_work_too(server: ServerProcess, home: Home) -> None:
    s = uuid.uuid4().hex
    part = NS(index=0, id="c9", function=NS(name="lookup", arguments='{"q":'))
    rest = NS(index=0, id=None, function=NS(name=None, arguments=' "x"}'))
    fake = FakeOpenAI(FakeAsyncCompletions([assistant("Sure."), [chunk(tool_calls=[part]), chunk(tool_calls=[rest])]]))

    async def main() -> None:
        async with AsyncClient(server.url, home.app_key, flush_interval=0.05) as tc:
            oa = wrap_openai(fake, tc, session_id=s)
            messages: list[Any] = [{"role": "user", "content": "Help?"}]
            r = await oa.chat.completions.create(model="m", messages=messages)
            messages += [{"role": "assistant", "content": r.choices[0].message.content}]
            messages += [{"role": "user", "content": "Look up x"}]
            stream = await oa.chat.completions.create(model="m", messages=messages, stream=True)
            async for _ in stream:
                pass
            assert await tc.flush(timeout=20) and tc.failed == 0

    asyncio.run(main())
    assert conversation(home, s) == [
        ("user", "Help?"),
        ("assistant", "Sure."),
        ("user", "Look up x"),
        ("assistant", "lookup"),
    ]
    [rec] = by_meta(home.records("conversation"), "session_id", s)
    assert isinstance(rec.content, ConversationContent)
    calls = rec.content.messages[-1].tool_calls
    assert calls is not None and calls[0].arguments == {"q": "x"}


def test_recording_problems_never_break_the_call(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeOpenAI(FakeCompletions([assistant("ok")]))
    oa = wrap_openai(fake, client)
    caplog.set_level(logging.ERROR, "thresher.sdk")
    r = oa.chat.completions.create(model="m", messages=[{"role": "narrator", "content": "x"}])  # not a role
    assert r.choices[0].message.content == "ok"
    assert "could not record" in caplog.text
