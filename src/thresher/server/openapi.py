"""The OpenAPI document, corrected where the generator under-states what the API requires.

A discriminated union (questions by ``type``, record content by ``kind``, capture events by
``type``) cannot be validated without its tag, but pydantic documents a tag that has a default
as optional. Clients generated from the spec, and fuzzers, then send members without it. Here
each member of such a union lists its tag as required.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

REF_PREFIX = "#/components/schemas/"


def require_discriminators(spec: dict[str, Any]) -> dict[str, Any]:
    """Mark the discriminator property required in every member schema of a tagged union (in place)."""
    schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            tag = node.get("discriminator")
            if isinstance(tag, dict) and isinstance(tag.get("propertyName"), str):
                members = [m for key in ("oneOf", "anyOf") for m in node.get(key, []) if isinstance(m, dict)]
                refs = [*tag.get("mapping", {}).values(), *(m.get("$ref") for m in members)]
                for ref in refs:
                    target = schemas.get(ref.removeprefix(REF_PREFIX)) if isinstance(ref, str) else None
                    if target is not None and tag["propertyName"] in target.get("properties", {}):
                        required = target.setdefault("required", [])
                        if tag["propertyName"] not in required:
                            required.append(tag["propertyName"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return spec


def install(app: FastAPI) -> None:
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        return require_discriminators(generate())

    app.openapi = openapi  # type: ignore[method-assign]
