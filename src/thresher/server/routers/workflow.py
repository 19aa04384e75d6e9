"""A dataset's annotation workflow: overlap, lease, review policy, consensus rules, routing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from thresher import annotate
from thresher.annotate import Workflow
from thresher.server.deps import ProjectAccess, StoreDep, dataset_of, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.permissions import Action
from thresher.server.schemas import DatasetName

router = APIRouter(
    prefix="/projects/{project}/datasets/{dataset}/workflow", tags=["annotation"], responses=ERROR_RESPONSES
)


@router.get("", response_model=Workflow, openapi_extra={"x-thresher-action": "read"})
def get_workflow(dataset: DatasetName, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.READ)]) -> Workflow:
    return annotate.get_workflow(store, dataset_of(store, ctx, dataset))


@router.put(
    "",
    response_model=Workflow,
    summary="Set the workflow (a change of routing re-routes the queue)",
    description=(
        "Consensus rules name questions of the dataset; `mean` and `median` apply to rating and ranking "
        "questions. Routing: the skill and language a record needs come from its metadata keys "
        "(`skill_key`, `language_key`, dotted paths), else from the first matching rule that names them."
    ),
    openapi_extra={"x-thresher-action": "write"},
)
def put_workflow(
    dataset: DatasetName, body: Workflow, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.WRITE)]
) -> Workflow:
    return annotate.set_workflow(store, dataset_of(store, ctx, dataset), body)
