"""OpenTelemetry traces (OTLP over HTTP, protobuf or JSON) as agent runs.

Spans follow the GenAI semantic conventions: ``gen_ai.operation.name`` is ``chat`` for a model
call (its ``gen_ai.output.messages`` hold text, reasoning and tool-call parts), ``execute_tool``
for a tool call (``gen_ai.tool.name``, ``gen_ai.tool.call.id``, ``…arguments``, ``…result``) and
``invoke_agent`` for an agent (the trace's root, or a hand-off when nested). Each span becomes
capture step events keyed by trace and span id, so a re-sent span is stored once; the root
span's arrival closes the run. Failures are read from span status: an erroring tool is a
``tool`` failure, any other error a ``system`` one; only people can tell a model-output fault.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import orjson

from thresher.errors import DataError, ErrorDetail
from thresher.model import AgentEndEvent, AgentStepEvent, CaptureEvent

STATUS_ERROR = 2


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    start: int
    attrs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # status message when the span failed


def parse_request(body: bytes, content_type: str) -> list[Span]:
    """An ExportTraceServiceRequest, protobuf or OTLP/JSON, as spans."""
    if "json" in content_type:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise DataError("OTLP/JSON body is not JSON", [ErrorDetail("invalid_json", ("body",), str(e))]) from None
        try:
            return _spans(data, ids_hex=True)
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            detail = ErrorDetail("invalid_otlp", ("body",), f"{type(e).__name__}: {e}")
            raise DataError("OTLP/JSON body is not an ExportTraceServiceRequest", [detail]) from None
    from google.protobuf.json_format import MessageToDict
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as e:
        detail = ErrorDetail("invalid_protobuf", ("body",), str(e))
        raise DataError("OTLP body is not an ExportTraceServiceRequest", [detail]) from None
    return _spans(MessageToDict(request), ids_hex=False)


def _id(value: str, ids_hex: bool) -> str:
    """OTLP/JSON writes ids in hex; protobuf's JSON mapping in base64."""
    if not value:
        return ""
    return value.lower() if ids_hex else base64.b64decode(value).hex()


def _value(v: dict[str, Any]) -> Any:
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        return int(v["intValue"])
    if "arrayValue" in v:
        return [_value(x) for x in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return {kv["key"]: _value(kv.get("value", {})) for kv in v["kvlistValue"].get("values", [])}
    return None


def _spans(data: dict[str, Any], ids_hex: bool) -> list[Span]:
    spans = []
    for rs in data.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                status = s.get("status", {})
                code = status.get("code", 0)
                failed = code in (STATUS_ERROR, "STATUS_CODE_ERROR")
                spans.append(
                    Span(
                        trace_id=_id(s.get("traceId", ""), ids_hex),
                        span_id=_id(s.get("spanId", ""), ids_hex),
                        parent_id=_id(s.get("parentSpanId", ""), ids_hex),
                        name=s.get("name", ""),
                        start=int(s.get("startTimeUnixNano", 0)),
                        attrs={a["key"]: _value(a.get("value", {})) for a in s.get("attributes", [])},
                        error=(status.get("message") or "error") if failed else None,
                    )
                )
    return spans


def _json_attr(span: Span, key: str) -> Any:
    raw = span.attrs.get(key)
    if isinstance(raw, str):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw
    return raw


def _text(parts: list[dict[str, Any]], kind: str = "text") -> str:
    return "".join(str(p.get("content", "")) for p in parts if p.get("type") == kind)


def _steps(span: Span) -> list[dict[str, Any]]:
    """The agent steps one span stands for, in order."""
    op = span.attrs.get("gen_ai.operation.name")
    model = span.attrs.get("gen_ai.response.model") or span.attrs.get("gen_ai.request.model")
    steps: list[dict[str, Any]] = []
    if op in ("chat", "text_completion", "generate_content"):
        for msg in _json_attr(span, "gen_ai.output.messages") or []:
            parts = msg.get("parts", []) if isinstance(msg, dict) else []
            if reasoning := _text(parts, "reasoning"):
                steps.append({"type": "reasoning", "content": reasoning, "model": model})
            for p in parts:
                if p.get("type") == "tool_call":
                    call = {"id": p.get("id"), "name": p.get("name") or "tool", "arguments": p.get("arguments") or {}}
                    steps.append({"type": "tool_call", "tool_call": call, "model": model})
            if text := _text(parts):
                steps.append({"type": "message", "content": text, "model": model})
    elif op == "execute_tool":
        result = span.attrs.get("gen_ai.tool.call.result")
        call_id = span.attrs.get("gen_ai.tool.call.id")
        if result is not None or span.error is None:
            content = result if isinstance(result, str) else orjson.dumps(result).decode()
            failed = span.error is not None
            steps.append({"type": "tool_result", "tool_call_id": call_id, "content": content, "is_error": failed})
    elif op == "invoke_agent" and span.parent_id:
        steps.append({"type": "handoff", "handoff_to": span.attrs.get("gen_ai.agent.name") or span.name})
    if span.error is not None:
        steps.append({"type": "error", "content": f"{span.name}: {span.error}"})
    return steps


def _task(root: Span, spans: list[Span]) -> str:
    for s in [root, *sorted(spans, key=lambda s: s.start)]:
        for msg in _json_attr(s, "gen_ai.input.messages") or []:
            if isinstance(msg, dict) and msg.get("role") == "user" and (text := _text(msg.get("parts", []))):
                return text
    return str(root.attrs.get("gen_ai.agent.name") or root.name or "agent run")


def to_events(spans: list[Span], dataset: str) -> list[CaptureEvent]:
    """Step events for every GenAI span, and an end event for each trace whose root span is here."""
    events: list[CaptureEvent] = []
    by_trace: dict[str, list[Span]] = {}
    for s in spans:
        by_trace.setdefault(s.trace_id, []).append(s)
    for trace_id, group in by_trace.items():
        root = next((s for s in group if not s.parent_id), None)
        for s in sorted(group, key=lambda s: s.start):
            if s is root and s.attrs.get("gen_ai.operation.name") == "invoke_agent":
                steps = [st for st in _steps(s) if st["type"] == "error"]
            else:
                steps = _steps(s)
            for k, step in enumerate(steps):
                events.append(
                    AgentStepEvent(
                        id=f"otel:{trace_id}:{s.span_id}:{k}",
                        dataset=dataset,
                        run_id=f"otel:{trace_id}",
                        index=s.start // 1000 * 16 + k,
                        step=step,
                    )
                )
        if root is not None:
            failing = [s for s in group if s.error is not None]
            failure = None
            if failing:
                first = min(failing, key=lambda s: s.start)
                cause = "tool" if first.attrs.get("gen_ai.operation.name") == "execute_tool" else "system"
                failure = {"cause": cause, "reason": f"{first.name}: {first.error}"}
            events.append(
                AgentEndEvent(
                    id=f"otel:{trace_id}:end",
                    dataset=dataset,
                    run_id=f"otel:{trace_id}",
                    task=_task(root, group),
                    outcome={"status": "failure" if failing else "success"},
                    failure=failure,
                    model=root.attrs.get("gen_ai.request.model"),
                    metadata={"trace_id": trace_id, "agent": root.attrs.get("gen_ai.agent.name")},
                )
            )
    return events
