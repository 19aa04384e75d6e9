"""Agent runs from a real OpenTelemetry SDK exporting OTLP/HTTP to a live server."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from thresher.model import AgentRunContent
from thresher.server import create_app
from thresher.settings import Settings
from thresher.store import RecordFilter, Store


@pytest.fixture
def live(store: Store) -> Iterator[tuple[str, str, Store]]:
    project = store.create_project("shop")
    assert project.id is not None
    _, secret = store.accounts.create_key(project.id, "app", "otel")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(store, Settings()), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/api/v1/projects/shop/otlp/v1/traces", secret, store
    server.should_exit = True
    thread.join(timeout=10)


def msgs(role: str, *parts: dict[str, Any]) -> str:
    return json.dumps([{"role": role, "parts": list(parts)}])


def run_agent(provider: TracerProvider, *, tool_fails: bool = False) -> None:
    tracer = provider.get_tracer("travel-app")
    root_attrs = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "travel",
        "gen_ai.input.messages": msgs("user", {"type": "text", "content": "Book a table in Porto"}),
    }
    with tracer.start_as_current_span("invoke_agent travel", attributes=root_attrs):
        call = {"type": "tool_call", "id": "c1", "name": "search", "arguments": {"city": "Porto"}}
        chat = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "m-7b",
            "gen_ai.output.messages": msgs("assistant", call),
        }
        with tracer.start_as_current_span("chat m-7b", attributes=chat):
            pass
        tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search", "gen_ai.tool.call.id": "c1"}
        with tracer.start_as_current_span("execute_tool search", attributes=tool) as span:
            if tool_fails:
                span.set_status(Status(StatusCode.ERROR, "search API 503"))
            else:
                span.set_attribute("gen_ai.tool.call.result", '[{"name": "Cantina 32"}]')
        if not tool_fails:
            answer = msgs("assistant", {"type": "text", "content": "Booked Cantina 32."})
            with tracer.start_as_current_span(
                "chat m-7b", attributes={"gen_ai.operation.name": "chat", "gen_ai.output.messages": answer}
            ):
                pass


def runs(store: Store) -> list[AgentRunContent]:
    project_id = store.get_project("shop").id
    assert project_id is not None
    assert store.capture.wait(project_id)  # the server's capture worker makes the records
    ds = store.get_dataset("shop", "capture")
    out = []
    for batch in store.iter_records(ds, flt=RecordFilter(kinds=["agent_run"])):
        for r in batch:
            content = r.to_record().content
            assert isinstance(content, AgentRunContent)
            out.append(content)
    return out


def test_protobuf_export_from_the_sdk_becomes_an_agent_run(live: tuple[str, str, Store]) -> None:
    url, secret, store = live
    provider = TracerProvider()
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=url, headers={"Authorization": f"Bearer {secret}"}))
    )
    run_agent(provider)
    provider.shutdown()
    (run,) = runs(store)
    assert run.task == "Book a table in Porto"
    assert [s.type for s in run.steps] == ["tool_call", "tool_result", "message"]
    assert run.steps[0].tool_call is not None and run.steps[0].tool_call.arguments == {"city": "Porto"}
    assert run.steps[1].tool_call_id == "c1" and run.steps[2].content == "Booked Cantina 32."
    assert run.outcome.status == "success" and run.failure is None


def test_json_export_with_a_failing_tool_and_resending_is_idempotent(live: tuple[str, str, Store]) -> None:
    url, secret, store = live
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    run_agent(provider, tool_fails=True)
    body = MessageToDict(encode_spans(memory.get_finished_spans()))
    for rs in body["resourceSpans"]:  # OTLP/JSON writes ids in hex, not protobuf-JSON's base64
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if s.get(key):
                        s[key] = base64.b64decode(s[key]).hex()
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    for _ in range(2):
        r = httpx.post(url, content=json.dumps(body), headers=headers)
        assert r.status_code == 200 and r.json() == {}
    (run,) = runs(store)  # the second send changed nothing
    assert run.outcome.status == "failure"
    assert run.failure is not None and run.failure.cause == "tool" and "503" in (run.failure.reason or "")
    assert run.steps[-1].type == "error"


def test_garbage_is_a_422_and_a_wrong_key_a_401(live: tuple[str, str, Store]) -> None:
    url, secret, _ = live
    r = httpx.post(
        url,
        content=b"\xff\x00garbage",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/x-protobuf"},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "data_error"
    assert httpx.post(url, content=b"", headers={"Authorization": "Bearer thr_nope"}).status_code == 401


def test_json_of_the_wrong_shape_is_a_422(live: tuple[str, str, Store]) -> None:
    url, secret, _ = live
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    for body in ('{"resourceSpans": [1]}', '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 5}]}]}]}', "[]"):
        r = httpx.post(url, content=body, headers=headers)
        assert r.status_code == 422, (body, r.text)
