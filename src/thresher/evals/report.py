"""The stage report: runs of one suite in stage order (base -> SFT -> DPO ...) as one HTML page.

Self-contained: inline SVG plots drawn here, inline CSS, no script and nothing fetched. Every
value written into the page is escaped.
"""

from __future__ import annotations

import itertools
import math
from html import escape
from pathlib import Path
from typing import Any

from thresher.errors import ConfigError, NotFound
from thresher.evals.compare import compare_runs
from thresher.store import Store
from thresher.store.evals import EvalRun

__all__ = ["pick_stage_runs", "stage_report", "write_stage_report"]

_COLORS = ("#3b6ea5", "#d1773b", "#4f9a5b", "#b2474f", "#7d62a8", "#8a6d3b", "#c25a9b", "#6b6b6b")


def pick_stage_runs(store: Store, project_id: int, suite: str) -> list[EvalRun]:
    """The latest finished run of each stage (or model, where no stage is set), oldest stage first."""
    latest: dict[str, EvalRun] = {}
    for run in store.evals.list_runs(project_id, suite=suite):
        if run.status == "done":
            latest.pop(run.stage or run.model, None)  # re-insert: order by the latest run
            latest[run.stage or run.model] = run
    if not latest:
        raise NotFound(f"no finished runs of suite {suite!r}")
    return list(latest.values())


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.{digits}f}" if isinstance(v, float) else escape(str(v))


def _label(run: EvalRun) -> str:
    return run.stage or run.model


def _bar_chart(runs: list[EvalRun]) -> str:
    w, h, left, bottom, top = 560, 240, 44, 36, 12
    plot_h = h - bottom - top
    slot = (w - left - 10) / max(1, len(runs))
    parts = [f'<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="mean score by stage">']
    for i in range(0, 11, 2):
        y = top + plot_h * (1 - i / 10)
        parts.append(f'<line x1="{left}" x2="{w - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{i / 10:.1f}</text>')
    for i, run in enumerate(runs):
        mean = run.summary.get("mean")
        lo, hi = (run.summary.get("ci") or [None, None])[:2]
        x = left + slot * i + slot * 0.2
        bw = slot * 0.6
        if mean is not None:
            y = top + plot_h * (1 - mean)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{top + plot_h - y:.1f}" '
                f'fill="{_COLORS[i % len(_COLORS)]}"><title>{escape(_label(run))}: {mean:.3f}</title></rect>'
            )
            if lo is not None and hi is not None:
                cx = x + bw / 2
                y1, y2 = top + plot_h * (1 - hi), top + plot_h * (1 - lo)
                parts.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" stroke="#222"/>')
                for yy in (y1, y2):
                    parts.append(
                        f'<line x1="{cx - 6:.1f}" x2="{cx + 6:.1f}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#222"/>'
                    )
        parts.append(
            f'<text x="{x + bw / 2:.1f}" y="{h - bottom + 16}" text-anchor="middle" font-size="12">'
            f"{escape(_label(run)[:18])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _tag_chart(runs: list[EvalRun], tags: list[str]) -> str:
    if len(runs) < 2 or not tags:
        return ""
    w, h, left, right, top, bottom = 560, 220, 44, 150, 12, 30
    pw, ph = w - left - right, h - top - bottom
    parts = [f'<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="score by tag and stage">']
    for i in range(0, 11, 2):
        y = top + ph * (1 - i / 10)
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{i / 10:.1f}</text>')
    step = pw / (len(runs) - 1)
    for j, run in enumerate(runs):
        parts.append(
            f'<text x="{left + step * j:.1f}" y="{h - 10}" text-anchor="middle" font-size="11">'
            f"{escape(_label(run)[:14])}</text>"
        )
    for k, tag in enumerate(tags[:8]):
        color = _COLORS[k % len(_COLORS)]
        points = []
        for j, run in enumerate(runs):
            t = run.summary.get("by_tag", {}).get(tag)
            if t is not None:
                points.append(f"{left + step * j:.1f},{top + ph * (1 - t['mean']):.1f}")
        if points:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(points)}"/>')
        parts.append(
            f'<text x="{left + pw + 8}" y="{top + 14 * k + 10}" font-size="11" fill="{color}">{escape(tag[:22])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _verdict(c: dict[str, Any], a: EvalRun, b: EvalRun) -> str:
    if not c["significant"]:
        return str(c["verdict"])
    better = b if c["diff"] > 0 else a
    return f"{_label(better)} is better (significant)"


def stage_report(store: Store, runs: list[EvalRun], *, title: str | None = None) -> str:
    """The HTML page for ``runs`` (in stage order, all on the same suite version)."""
    if not runs:
        raise ConfigError("a stage report needs at least one run")
    if len({r.suite_version_id for r in runs}) != 1:
        raise ConfigError("a stage report compares runs of one suite version")
    suite = runs[0].suite
    title = title or f"Stage report: {suite}"
    rows = []
    for run in runs:
        s = run.summary
        lo, hi = (s.get("ci") or [None, None])[:2]
        rows.append(
            "<tr>"
            f"<td>{escape(run.stage or '–')}</td><td>{escape(run.model)}</td>"
            f"<td>{escape(run.training_version or '–')}</td><td>{_fmt(s.get('items'))}</td>"
            f"<td><b>{_fmt(s.get('mean'))}</b></td><td>[{_fmt(lo)}, {_fmt(hi)}]</td>"
            f"<td>{_fmt(s.get('pass_rate'))}</td><td>{_fmt(s.get('errors'))}</td>"
            f"<td>{_fmt((s.get('latency_ms') or {}).get('p50'), 1)}</td><td>{escape(run.id)}</td>"
            "</tr>"
        )
    comparisons = []
    for a, b in itertools.pairwise(runs):
        c = compare_runs(store, a, b)
        mc = c.get("mcnemar")
        cls = "sig" if c["significant"] else "noise"
        comparisons.append(
            "<tr>"
            f"<td>{escape(_label(a))} → {escape(_label(b))}</td><td>{_fmt(c['n'])}</td>"
            f"<td>{_fmt(c['diff'])}</td><td>[{_fmt(c['ci'][0])}, {_fmt(c['ci'][1])}]</td>"
            f"<td>{_fmt(mc['p'], 4) if mc else '–'}</td><td>{_fmt(c['p_bootstrap'], 4)}</td>"
            f'<td class="{cls}">{escape(_verdict(c, a, b))}</td>'
            "</tr>"
        )
    tags = sorted({t for run in runs for t in run.summary.get("by_tag", {})})
    tag_rows = []
    for tag in tags:
        cells = []
        for run in runs:
            t = run.summary.get("by_tag", {}).get(tag)
            cells.append(
                f"<td>{_fmt(t['mean'])} <small>[{_fmt(t['ci'][0], 2)}, {_fmt(t['ci'][1], 2)}] n={t['n']}</small></td>"
                if t
                else "<td>–</td>"
            )
        tag_rows.append(f"<tr><td>{escape(tag)}</td>{''.join(cells)}</tr>")
    head_cells = "".join(f"<th>{escape(_label(r))}</th>" for r in runs)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #222; }}
table {{ border-collapse: collapse; margin: .5rem 0 1.5rem; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }}
th {{ background: #f5f5f5; }} small {{ color: #666; }}
.sig {{ color: #1d6b2f; font-weight: 600; }} .noise {{ color: #777; }}
</style></head><body>
<h1>{escape(title)}</h1>
<p>Suite <b>{escape(suite)}</b>; {len(runs)} runs in stage order. Scores are 0–1 means with 95% bootstrap
intervals. Consecutive stages are compared item by item: the paired bootstrap interval of the difference,
and McNemar's test for pass/fail scores. "Significant" means the interval excludes 0 (and McNemar's p &lt; 0.05);
anything else is within noise.</p>
<h2>Runs</h2>
<table><tr><th>stage</th><th>model</th><th>trained on</th><th>items</th><th>mean</th><th>95% CI</th>
<th>pass rate</th><th>errors</th><th>p50 ms</th><th>run</th></tr>{"".join(rows)}</table>
{_bar_chart(runs)}
<h2>Stage to stage</h2>
<table><tr><th>change</th><th>items</th><th>Δ mean</th><th>95% CI of Δ</th><th>McNemar p</th>
<th>bootstrap p</th><th>verdict</th></tr>{"".join(comparisons) or '<tr><td colspan="7">one run only</td></tr>'}</table>
<h2>By tag</h2>
{_tag_chart(runs, tags)}
<table><tr><th>tag</th>{head_cells}</tr>{"".join(tag_rows)}</table>
</body></html>
"""


def write_stage_report(store: Store, runs: list[EvalRun], out: Path, *, title: str | None = None) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(stage_report(store, runs, title=title), encoding="utf-8")
    return out
