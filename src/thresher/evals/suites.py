"""Eval suites: an eval dataset (records of kind ``eval_item``) and the version a run points to.

``NAME`` or ``NAME@VERSION`` names a dataset of the project. Without a version the latest one is
used, and a dataset that has none gets ``v1`` made from its current records. A name that is not
a dataset but a built-in suite (``gsm8k-mini``) is imported from the package first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from thresher.errors import NotFound
from thresher.evals.importers import import_benchmark
from thresher.model import Dataset, DatasetVersion
from thresher.store import Store

__all__ = ["BUILTIN_SUITES", "Suite", "resolve_suite"]

_DATA = Path(__file__).parent / "data"
# name -> (file shipped in the package, benchmark format)
BUILTIN_SUITES: dict[str, tuple[Path, str]] = {
    "gsm8k-mini": (_DATA / "gsm8k-mini.jsonl", "gsm8k"),
}


@dataclass(frozen=True)
class Suite:
    dataset: Dataset
    version: DatasetVersion

    @property
    def name(self) -> str:
        return f"{self.dataset.name}@{self.version.name}"


def resolve_suite(store: Store, project: str, spec: str) -> Suite:
    name, _, version_name = spec.partition("@")
    try:
        dataset = store.get_dataset(project, name)
    except NotFound:
        if name not in BUILTIN_SUITES:
            known = ", ".join(sorted(BUILTIN_SUITES))
            raise NotFound(f"no eval dataset {project}/{name} (and no built-in suite of that name: {known})") from None
        path, fmt = BUILTIN_SUITES[name]
        dataset = store.ensure_dataset(project, name)
        import_benchmark(store, dataset, path, fmt)
    if version_name:
        return Suite(dataset, store.get_version(dataset, version_name))
    versions = store.list_versions(dataset)
    if versions:
        return Suite(dataset, versions[-1])
    return Suite(dataset, store.create_version(dataset, "v1", description="made by the first eval run"))
