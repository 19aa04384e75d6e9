"""Readable views of records in the terminal (text is escaped: never markup)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from thresher.model import Record, Response
from thresher.pipeline.stats import content_text
from thresher.store import RecordRow


def summary(row: RecordRow, width: int = 80) -> str:
    text = " ".join(content_text(row.kind, row.content_dict()).split())
    return text[: width - 1] + "…" if len(text) > width else text


def print_record(console: Console, record: Record, responses: list[Response], *, as_json: bool = False) -> None:
    if as_json:
        console.print_json(record.model_dump_json(exclude_none=True))
        return
    c = record.content
    head = f"{record.id}  {c.kind}  split={record.split or '-'}  task={record.task_type or '-'}"
    console.print(f"[bold]{escape(head)}[/]")
    if c.kind == "conversation":
        for m in c.messages:
            body = m.text() or ", ".join(f"{t.name}({t.arguments})" for t in m.tool_calls or [])
            console.print(Panel(escape(body), title=m.role, title_align="left"))
    elif c.kind == "comparison":
        for m in c.prompt:
            console.print(Panel(escape(m.text()), title=m.role, title_align="left"))
        for cand in c.candidates:
            text = "\n".join(m.text() for m in cand.messages)
            console.print(Panel(escape(text), title=f"candidate {cand.id} ({cand.model or '?'})", title_align="left"))
    elif c.kind == "agent_run":
        console.print(f"task: {escape(c.task if isinstance(c.task, str) else c.task[-1].text())}")
        for i, s in enumerate(c.steps):
            detail = s.content or (f"{s.tool_call.name}({s.tool_call.arguments})" if s.tool_call else "")
            mark = " [red]← failure[/]" if c.failure and c.failure.step == i else ""
            console.print(f"  {i:>2} {s.type:<11} {escape(detail[:200])}{mark}")
        console.print(f"outcome: {c.outcome.status}" + (f", cause: {c.failure.cause}" if c.failure else ""))
    else:
        console.print(escape(record.content.model_dump_json(indent=2, exclude_none=True)))
    for r in responses:
        console.print(f"[dim]response by {escape(r.user)}:[/] {escape(str(r.answers))}")
