"""The run report: what each block did, and the output's distributions, as HTML with bar charts."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import orjson


def _bars(title: str, counts: dict[str, int], width: int = 420) -> str:
    if not counts:
        return ""
    top = max(counts.values()) or 1
    rows = list(counts.items())[:25]
    h = 22 * len(rows) + 30
    parts = [f'<svg width="{width + 260}" height="{h}" role="img" aria-label="{html.escape(title)}">']
    parts.append(f'<text x="0" y="16" font-weight="bold">{html.escape(title)}</text>')
    for i, (label, n) in enumerate(rows):
        y = 28 + 22 * i
        w = max(int(width * n / top), 1)
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{html.escape(str(label))[:28]}</text>')
        parts.append(f'<rect x="180" y="{y}" width="{w}" height="16" fill="#4a7ab5"/>')
        parts.append(f'<text x="{185 + w}" y="{y + 13}" font-size="12">{n:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def write_report(out_dir: Path, run: dict[str, Any], blocks: list[dict[str, Any]], stats: dict[str, Any]) -> Path:
    """``report.html`` and ``report.json`` in ``out_dir``; returns the HTML path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_bytes(
        orjson.dumps({"run": run, "blocks": blocks, "stats": stats}, option=orjson.OPT_INDENT_2)
    )
    esc = html.escape
    rows = []
    for b in blocks:
        c = b["counters"]
        reasons = "; ".join(
            f"{what} {esc(r)}: {n:,}"
            for what in ("dropped", "changed", "flagged", "errors")
            for r, n in c.get(what, {}).items()
        )
        rows.append(
            f"<tr><td>{b['index']}</td><td>{esc(b['block'])}</td><td>{c['seen']:,}</td><td>{c['kept']:,}</td>"
            f"<td>{sum(c.get('dropped', {}).values()):,}</td><td>{sum(c.get('changed', {}).values()):,}</td>"
            f"<td>{sum(c.get('flagged', {}).values()):,}</td><td>{sum(c.get('errors', {}).values()):,}</td>"
            f"<td>{reasons}</td></tr>"
        )
    charts = "".join(_bars(f"records by {k.replace('_', ' ')}", v) for k, v in stats.get("by", {}).items())
    tokens = stats.get("tokens", {})
    charts += _bars(f"tokens by kind ({esc(str(stats.get('tokenizer', 'approx')))})", tokens)
    title = f"Curation run {esc(run.get('id', ''))}: {esc(run.get('pipeline', ''))}"
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:14px}}svg{{display:block;margin:1em 0}}</style>
</head><body>
<h1>{title}</h1>
<p>input: {esc(str(run.get("input", "")))} &rarr; output: {esc(str(run.get("output", "")))};
records in: {run.get("records_in", 0):,}, out: {run.get("records_out", 0):,}</p>
<h2>Blocks</h2>
<table><tr><th>#</th><th>block</th><th>seen</th><th>kept</th><th>dropped</th><th>changed</th><th>flagged</th>
<th>failed</th><th>reasons</th></tr>
{"".join(rows)}</table>
<h2>Output</h2>
<p>{stats.get("records", 0):,} records, {sum(tokens.values()):,} tokens</p>
{charts}
</body></html>
"""
    path = out_dir / "report.html"
    path.write_text(doc, encoding="utf-8")
    return path
