"""The output is JSON (code fences allowed) valid against the grader's ``params.schema``."""

from __future__ import annotations

import re
from typing import Any

import orjson

from thresher.evals.scorers.base import EvalItem, Score, Scorer, register_scorer

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(output: str) -> Any:
    m = _FENCE.search(output)
    return orjson.loads((m.group(1) if m else output).strip())


@register_scorer("json_schema")
class JSONSchemaScorer(Scorer):
    def score(self, item: EvalItem, output: str) -> Score:
        import jsonschema

        schema = item.grader_params.get("schema", {})
        try:
            value = extract_json(output)
        except orjson.JSONDecodeError as e:
            return Score(0.0, False, {"error": f"not JSON: {e}"})
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            return Score(0.0, False, {"error": first.message, "path": list(first.path)})
        return Score(1.0, True)
