"""Human review of a run's outputs, and how well an LLM judge agrees with the people.

``send_to_review`` turns each output into a conversation record (the item's input, then the
model's answer) in an annotation dataset with one rating question (``quality``, 1-5); the
annotation queue picks up any dataset with questions. ``collect_human_scores`` reads the
submitted responses back into the run's results (``details.human``; the score too where the
run left it pending). ``judge_human_alignment`` reports Cohen's kappa, Krippendorff's alpha
(ordinal) and exact agreement where both a judge and people rated the same items, so a team
knows when the judge can stand in for people.
"""

from __future__ import annotations

from typing import Any

import orjson

from thresher.evals.stats import cohen_kappa, krippendorff_alpha
from thresher.model import Dataset, Record, TextQuestion
from thresher.model.questions import RatingQuestion
from thresher.store import Store
from thresher.store.evals import EvalRun

__all__ = ["QUALITY", "collect_human_scores", "judge_human_alignment", "send_to_review"]

QUALITY = RatingQuestion(
    name="quality",
    title="How good is the answer?",
    dimension="quality",
    min=1,
    max=5,
    anchors={1: "wrong or harmful", 3: "partly right", 5: "fully right and helpful"},
)
_NOTE = TextQuestion(name="note", title="Why (optional)", required=False)


def send_to_review(store: Store, run: EvalRun, dataset_name: str | None = None) -> Dataset:
    """Put the run's outputs in an annotation dataset (created if missing); returns it."""
    project = store.list_projects()
    name = dataset_name or f"review-{run.id}"
    project_name = next(p.name for p in project if p.id == run.project_id)
    ds = store.ensure_dataset(project_name, name)
    ds = store.add_questions(ds, [QUALITY, _NOTE])
    records = []
    for r in store.evals.iter_results(run.id):
        if r.output is None:
            continue
        item = orjson.loads(store.get_record(r.record_id).model_dump_json(include={"content"}))["content"]
        messages = [*item["input"], {"role": "assistant", "content": r.output or " "}]
        records.append(
            Record.model_validate(
                {
                    "content": {"kind": "conversation", "messages": messages},
                    "metadata": {"eval_run": run.id, "eval_record": r.record_id, "model": run.model},
                    "lineage": [r.record_id],
                }
            )
        )
    store.add_records(ds, records)
    return ds


def collect_human_scores(store: Store, run: EvalRun, dataset: Dataset) -> int:
    """Read submitted ratings back into the run's results; returns how many items got one."""
    results = {r.record_id: r for r in store.evals.iter_results(run.id)}
    updated = 0
    for batch in store.iter_records(dataset):
        by_record = store.responses_for([row.id for row in batch])
        for row in batch:
            meta = orjson.loads(row.metadata)
            if meta.get("eval_run") != run.id or meta.get("eval_record") not in results:
                continue
            ratings = [
                float(resp.answers["quality"])
                for resp in by_record.get(row.id, [])
                if isinstance(resp.answers.get("quality"), int | float)
            ]
            if not ratings:
                continue
            res = results[meta["eval_record"]]
            mean = sum(ratings) / len(ratings)
            details = {**res.details, "human": {"ratings": ratings, "mean": mean}}
            details.pop("pending", None)
            score = res.score if res.score is not None else (mean - QUALITY.min) / (QUALITY.max - QUALITY.min)
            store.evals.update_result(run.id, res.record_id, score=score, passed=res.passed, details=details)
            updated += 1
    return updated


def judge_human_alignment(store: Store, run: EvalRun) -> dict[str, Any]:
    """Agreement between the judge's rating and the people's (mean, rounded) on the items both rated."""
    judge: list[float] = []
    human: list[float] = []
    for r in store.evals.iter_results(run.id):
        j, h = r.details.get("judge_rating"), (r.details.get("human") or {}).get("mean")
        if j is not None and h is not None:
            judge.append(float(j))
            human.append(float(round(h)))
    n = len(judge)
    return {
        "items": n,
        "exact_agreement": sum(a == b for a, b in zip(judge, human, strict=True)) / n if n else None,
        "cohen_kappa": cohen_kappa(judge, human) if n else None,
        "krippendorff_alpha": krippendorff_alpha(judge, human) if n > 1 else None,
        "mean_abs_diff": sum(abs(a - b) for a, b in zip(judge, human, strict=True)) / n if n else None,
    }
