"""Dataset-effectiveness report: did dataset version B help more than version A?

Fine-tune the same base on A and on B with one recipe, run the project's eval suite on the base
and both tunes (``thresher.evals``: the HF adapter, the runner, paired comparisons with bootstrap
intervals and McNemar), and write one HTML page that says which version helped and by how much,
or that the difference is within noise. The evals stage report is written beside it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import orjson

from thresher.errors import ConfigError
from thresher.model import Dataset, DatasetVersion
from thresher.store import Store
from thresher.store.training import Stage, TrainingRun
from thresher.train.recipe import Recipe
from thresher.train.runner import split_ref, train

WITHIN_NOISE = "within noise"


@dataclass
class Side:
    label: str  # dataset@version, or "base"
    stage: Stage
    run: TrainingRun | None
    eval_run: Any  # thresher.store.evals.EvalRun


@dataclass
class CompareReport:
    path: Path
    verdict: str  # "<B> helped", "<A> helped" or "within noise"
    headline: str
    a_vs_b: dict[str, Any]
    sides: list[Side] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def version_texts(store: Store, dataset: Dataset, version: DatasetVersion) -> Iterator[str]:
    """Every string in the version's record contents (to train a tokenizer on)."""

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)

    for batch in store.iter_records(dataset, version=version):
        for r in batch:
            yield from strings(orjson.loads(r.content))


def _evaluate(store: Store, suite: Any, stage: Stage, training_version: str | None, max_tokens: int) -> Any:
    from thresher.evals import RunOptions, run_eval
    from thresher.evals.adapters.hf import HFAdapter
    from thresher.train.models import load_causal_lm, load_tokenizer

    if not stage.model_path:
        raise ConfigError(f"stage {stage.name!r} has no local model to evaluate")
    path = Path(stage.model_path)
    model = load_causal_lm(path)
    model.eval()
    # The model folder names the adapter: the response cache is keyed by it, and every run has its own.
    adapter = HFAdapter(model, load_tokenizer(path), name=str(path))
    options = RunOptions(
        params={"temperature": 0, "max_tokens": max_tokens}, stage=stage.name, training_version=training_version
    )
    return run_eval(store, suite, adapter, options)


def compare_versions(
    store: Store,
    project: str,
    recipe: Recipe,
    a: str,
    b: str,
    suite: str,
    runs_dir: Path,
    out: Path,
    *,
    max_tokens: int = 32,
    seed: int = 0,
) -> CompareReport:
    """Train ``recipe`` on ``a`` and on ``b`` (each ``dataset@version``), evaluate base, A and B on
    ``suite``, and write the report to ``out`` (HTML; ``.json`` beside it)."""
    from thresher.evals import resolve_suite

    for ref in (a, b):
        split_ref(ref, project)  # fail on a bad reference before any training
    the_suite = resolve_suite(store, project, suite)
    sides: list[Side] = []
    trained: dict[str, tuple[TrainingRun, Stage]] = {}
    for ref in (a, b):
        r = recipe.model_copy(update={"stage": None})
        result = train(store, project, r, runs_dir, dataset=ref)
        assert result.stage is not None
        trained[ref] = (result.run, result.stage)
    base_stage = store.training.get_stage(project, trained[a][0].base_stage or "")
    sides.append(Side("base", base_stage, None, _evaluate(store, the_suite, base_stage, None, max_tokens)))
    for ref in (a, b):
        run, stage = trained[ref]
        sides.append(Side(ref, stage, run, _evaluate(store, the_suite, stage, ref, max_tokens)))
    return build_report(store, project, recipe, sides, out, seed=seed)


def build_report(
    store: Store, project: str, recipe: Recipe, sides: list[Side], out: Path, *, seed: int = 0
) -> CompareReport:
    """The report from recorded runs: ``sides`` are base, A and B, each with its finished eval run
    (all on one suite version). Arena ratings of their models are included where votes exist."""
    if len(sides) != 3:
        raise ConfigError(f"a comparison report needs base, A and B; got {len(sides)} sides")
    from thresher.evals import compare_runs

    base, side_a, side_b = sides
    a, b = side_a.label, side_b.label
    pairs = {
        "base_vs_a": compare_runs(store, base.eval_run, side_a.eval_run, seed=seed),
        "base_vs_b": compare_runs(store, base.eval_run, side_b.eval_run, seed=seed),
        "a_vs_b": compare_runs(store, side_a.eval_run, side_b.eval_run, seed=seed),
    }
    ab = pairs["a_vs_b"]
    verdict, headline = _verdict(a, b, ab)
    # Arena battles name a model as its eval runs do (a model folder, an endpoint's model name).
    names = [s.stage.name for s in sides] + [s.eval_run.model for s in sides]
    arena = _arena(store, project, names + [str(s.stage.model_path) for s in sides if s.stage.model_path])
    suite_name = side_a.eval_run.suite
    data = {
        "project": project,
        "suite": suite_name,
        "recipe": recipe.model_dump(mode="json"),
        "verdict": verdict,
        "headline": headline,
        "sides": [_side_dict(s) for s in sides],
        "comparisons": pairs,
        "arena": arena,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    stages_page = out.with_name(out.stem + ".stages.html")
    try:
        from thresher.evals.report import write_stage_report

        write_stage_report(store, [s.eval_run for s in sides], stages_page, title=f"Stages on {suite_name}")
    except ImportError:  # pragma: no cover - an evals build without the stage report
        stages_page = Path()
    out.write_text(_html(data, stages_page.name if stages_page.name else None), encoding="utf-8")
    out.with_suffix(".json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str) + b"\n")
    return CompareReport(out, verdict, headline, ab, sides, data)


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def _verdict(a: str, b: str, cmp: dict[str, Any]) -> tuple[str, str]:
    """The plain sentence: which version helped, by how much, or within noise."""
    if not cmp.get("n"):
        return WITHIN_NOISE, "no eval items were scored for both versions: nothing to compare"
    diff, (lo, hi) = cmp["diff"], cmp["ci"]
    ci = f"95% CI {_pts(lo)} to {_pts(hi)} points, n={cmp['n']}"
    p = cmp.get("mcnemar", {}) or {}
    test = f", McNemar p={p['p']:.3g}" if "p" in p else f", bootstrap p={cmp['p_bootstrap']:.3g}"
    if cmp["significant"]:
        winner, loser = (b, a) if diff > 0 else (a, b)
        return f"{winner} helped", f"{winner} helped: {_pts(abs(diff))} points over {loser} ({ci}{test})."
    return WITHIN_NOISE, f"Within noise: {b} vs {a} is {_pts(diff)} points ({ci}{test}); neither helped measurably."


def _arena(store: Store, project: str, names: list[str]) -> list[dict[str, Any]]:
    """Arena ratings of the compared stages, where human votes exist."""
    try:
        from thresher.evals.arena import leaderboard
    except ImportError:  # pragma: no cover
        return []
    pid = store.get_project(project).id
    assert pid is not None
    if not store.evals.votes(pid):
        return []
    wanted = set(names)
    return [
        {"model": r.model, "rating": r.rating, "ci": list(r.ci), "battles": r.battles}
        for r in leaderboard(store, pid)
        if r.model in wanted
    ]


def _side_dict(s: Side) -> dict[str, Any]:
    summary = s.eval_run.summary
    out: dict[str, Any] = {
        "label": s.label,
        "stage": s.stage.name,
        "parent": s.stage.parent,
        "model": s.stage.model_path,
        "eval_run": s.eval_run.id,
        "mean": summary.get("mean"),
        "ci": summary.get("ci"),
        "items": summary.get("items"),
        "by_tag": summary.get("by_tag", {}),
    }
    if s.run is not None:
        out |= {
            "training_run": s.run.id,
            "manifest_hash": s.run.manifest_hash,
            "steps": s.run.step,
            "loss_curve": s.run.loss_curve,
        }
    return out


# -- the page ---------------------------------------------------------------------------------

_CSS = """body{font:15px/1.45 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}.verdict{font-size:1.25em;padding:.8em 1em;border-radius:6px;background:#eef4ea}
.noise{background:#f3f1ea}table{border-collapse:collapse;margin:1em 0;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:.9em}svg{background:#fafafa;border:1px solid #eee}"""


def _num(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.{digits}f}" if isinstance(v, float) else escape(str(v))


def _ci(ci: Any) -> str:
    if not ci or ci[0] is None:
        return "–"
    return f"[{_num(ci[0])}, {_num(ci[1])}]"


def _loss_svg(sides: list[dict[str, Any]]) -> str:
    curves = [(s["label"], s.get("loss_curve") or []) for s in sides if s.get("loss_curve")]
    if not curves:
        return "<p>No loss curves recorded.</p>"
    w, h, pad = 640, 240, 36
    steps = [p["step"] for _, c in curves for p in c]
    losses = [p["loss"] for _, c in curves for p in c]
    x0, x1 = min(steps), max(steps) or 1
    y0, y1 = min(losses), max(losses)
    y1 = y1 if y1 > y0 else y0 + 1

    def xy(p: dict[str, float]) -> str:
        x = pad + (p["step"] - x0) / max(1, x1 - x0) * (w - 2 * pad)
        y = h - pad - (p["loss"] - y0) / (y1 - y0) * (h - 2 * pad)
        return f"{x:.1f},{y:.1f}"

    colors = ("#3b6ea5", "#d1773b", "#4f9a5b")
    parts = [f'<svg width="{w}" height="{h}" role="img" aria-label="training loss">']
    parts.append(f'<text x="{pad}" y="16" font-size="12">loss {y1:.2f}</text>')
    parts.append(f'<text x="{pad}" y="{h - 8}" font-size="12">{y0:.2f} · steps {x0}–{x1}</text>')
    for i, (label, c) in enumerate(curves):
        color = colors[i % len(colors)]
        points = " ".join(xy(p) for p in c)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
        parts.append(f'<text x="{w - 220}" y="{20 + 16 * i}" font-size="12" fill="{color}">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _head(*names: str) -> str:
    return "<tr>" + "".join(f"<th>{escape(n)}</th>" for n in names) + "</tr>"


def _html(d: dict[str, Any], stages_page: str | None) -> str:
    sides = d["sides"]
    noise = d["verdict"] == WITHIN_NOISE
    rows = "".join(
        f"<tr><td>{escape(s['label'])}</td><td><code>{escape(s['stage'])}</code></td>"
        f"<td><code>{escape(str(s.get('manifest_hash') or '')[:16])}</code></td>"
        f"<td class=n>{_num(s['mean'])}</td><td class=n>{_ci(s['ci'])}</td><td class=n>{_num(s['items'])}</td></tr>"
        for s in sides
    )
    labels = {"base_vs_a": ("base", sides[1]["label"]), "base_vs_b": ("base", sides[2]["label"])}
    labels["a_vs_b"] = (sides[1]["label"], sides[2]["label"])
    pair_rows = ""
    for key, c in d["comparisons"].items():
        a, b = labels[key]
        mc = (c.get("mcnemar") or {}).get("p")
        pair_rows += (
            f"<tr><td>{escape(b)} vs {escape(a)}</td><td class=n>{_num(c.get('diff'))}</td>"
            f"<td class=n>{_ci(c.get('ci'))}</td><td class=n>{_num(c.get('p_bootstrap'))}</td>"
            f"<td class=n>{_num(mc)}</td><td>{escape(str(c.get('verdict')))}</td></tr>"
        )
    tag_rows = "".join(
        f"<tr><td>{escape(tag)}</td><td class=n>{_num(t.get('n'))}</td><td class=n>{_num(t.get('mean_a'))}</td>"
        f"<td class=n>{_num(t.get('mean_b'))}</td><td class=n>{_num(t.get('diff'))}</td>"
        f"<td class=n>{_ci(t.get('ci'))}</td><td>{escape(str(t.get('verdict')))}</td></tr>"
        for tag, t in d["comparisons"]["a_vs_b"].get("by_tag", {}).items()
    )
    arena = (
        "".join(
            f"<tr><td>{escape(r['model'])}</td><td class=n>{_num(r['rating'], 0)}</td>"
            f"<td class=n>{_ci(r['ci'])}</td><td class=n>{r['battles']}</td></tr>"
            for r in d["arena"]
        )
        if d["arena"]
        else ""
    )
    a_label, b_label = sides[1]["label"], sides[2]["label"]
    r = d["recipe"]
    setup = (
        f"recipe <code>{escape(r['method'])}{' + LoRA' if r.get('lora') else ''}</code>, "
        f"{escape(str(r['train']['max_steps']))} steps, seed {escape(str(r['seed']))}, the same base for both"
    )
    score_head = _head("model", "stage", "data manifest", "mean", "95% CI", "items")
    tags = (
        f"<table>{_head('tag', 'n', 'A', 'B', 'diff', '95% CI', 'verdict')}{tag_rows}</table>"
        if tag_rows
        else "<p>The suite's items carry no task type or domain tags.</p>"
    )
    arena_table = (
        f"<table>{_head('model', 'rating', '95% CI', 'battles')}{arena}</table>"
        if arena
        else "<p>No human votes for these stages yet.</p>"
    )
    link = f'<p>Per-stage charts: <a href="{escape(stages_page)}">{escape(stages_page)}</a></p>' if stages_page else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dataset comparison: {escape(a_label)} vs {escape(b_label)}</title>
<style>{_CSS}</style></head><body>
<h1>Did the data help? {escape(a_label)} vs {escape(b_label)}</h1>
<p class="verdict{" noise" if noise else ""}"><strong>{escape(d["headline"])}</strong></p>
<p>Project <code>{escape(d["project"])}</code>, eval suite <code>{escape(d["suite"])}</code>, {setup}.</p>
<h2>Scores</h2>
<table>{score_head}{rows}</table>
<h2>Paired comparisons</h2>
<p>Same items, B minus A; significant only when the 95% bootstrap interval excludes 0 (and McNemar agrees for
pass/fail scores).</p>
<table><tr><th>pair</th><th>diff</th><th>95% CI</th><th>p (bootstrap)</th><th>p (McNemar)</th><th>verdict</th></tr>
{pair_rows}</table>
<h2>By task type and domain ({escape(b_label)} vs {escape(a_label)})</h2>
{tags}
<h2>Training loss</h2>
{_loss_svg(sides)}
<h2>Arena ratings</h2>
{arena_table}
{link}
</body></html>
"""
