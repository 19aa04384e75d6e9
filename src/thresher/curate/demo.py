"""The curation part of ``make demo``: the shipped pipeline and triage rules over the demo data."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from thresher.curate.executor import InlineExecutor
from thresher.curate.runner import run_pipeline
from thresher.curate.spec import InputSpec, OutputSpec, load_pipeline
from thresher.curate.triage import load_rules, triage_dataset
from thresher.store import Store

DEMO_DATASET = "assistant"


def run_demo_curation(store: Store, project: str, out_dir: Path, dataset: str = DEMO_DATASET) -> Path:
    """Curate ``dataset`` into ``<dataset>-curated`` with the default pipeline, triage it with the
    default rules; returns the run report's path (HTML)."""
    spec = load_pipeline(Path(str(files("thresher.curate").joinpath("pipelines/default.yaml"))))
    result = run_pipeline(
        store,
        spec,
        project=project,
        work_root=out_dir / "curation",
        executor=InlineExecutor(),
        input=InputSpec(dataset=dataset),
        output=OutputSpec(dataset=f"{dataset}-curated"),
    )
    triage_dataset(store, project, dataset, load_rules())
    return result.report
