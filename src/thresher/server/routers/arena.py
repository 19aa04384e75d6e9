"""The arena: blind battles dealt to a voter, votes, and the Bradley-Terry leaderboard."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from thresher.evals.arena import leaderboard, next_battle
from thresher.server.deps import ProjectAccess, StoreDep, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.permissions import Action

router = APIRouter(prefix="/projects/{project}/arena", tags=["arena"], responses=ERROR_RESPONSES)


class ArenaOutput(BaseModel):
    output: str


class BattlePublic(BaseModel):
    """What a voter sees: no model names until the vote is in."""

    battle_id: str
    prompt: list[dict[str, Any]] = Field(description="the input messages")
    a: ArenaOutput
    b: ArenaOutput


class VoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    battle_id: str = Field(max_length=64)
    winner: Literal["a", "b", "tie", "both_bad"]
    reason: str | None = Field(default=None, max_length=10_000)


class VotePublic(BaseModel):
    battle_id: str
    winner: str
    reason: str | None
    model_a: str = Field(description="revealed once the vote is in")
    model_b: str


class RatingPublic(BaseModel):
    model: str
    rating: float = Field(description="Bradley-Terry strength on the Elo scale (mean 1000)")
    ci: tuple[float, float] = Field(description="95% bootstrap interval over the votes")
    battles: int
    wins: int
    ties: int


class Leaderboard(BaseModel):
    votes: int
    models: list[RatingPublic]


@router.post(
    "/next",
    response_model=BattlePublic,
    summary="Deal the caller a blind battle: a prompt and two anonymous outputs",
    openapi_extra={"x-thresher-action": "annotate"},
)
def deal(store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.ANNOTATE)]) -> BattlePublic:
    b = next_battle(store, ctx.project.name, ctx.principal.name)
    return BattlePublic(
        battle_id=b.id, prompt=b.prompt, a=ArenaOutput(output=b.output_a), b=ArenaOutput(output=b.output_b)
    )


@router.post(
    "/votes",
    response_model=VotePublic,
    status_code=201,
    summary="Vote on a battle dealt to the caller (A, B, tie or both bad), with an optional reason",
    openapi_extra={"x-thresher-action": "annotate"},
)
def vote(body: VoteCreate, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.ANNOTATE)]) -> VotePublic:
    assert ctx.project.id is not None
    b = store.evals.vote(body.battle_id, ctx.project.id, ctx.principal.name, body.winner, body.reason)
    assert b.winner is not None
    return VotePublic(battle_id=b.id, winner=b.winner, reason=b.reason, model_a=b.model_a, model_b=b.model_b)


@router.get(
    "/leaderboard",
    response_model=Leaderboard,
    summary="Models ranked by Bradley-Terry ratings with bootstrap intervals",
    openapi_extra={"x-thresher-action": "browse"},
)
def get_leaderboard(store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.BROWSE)]) -> Leaderboard:
    assert ctx.project.id is not None
    ratings = leaderboard(store, ctx.project.id)
    return Leaderboard(
        votes=len(store.evals.votes(ctx.project.id)),
        models=[RatingPublic(**r.__dict__) for r in ratings],
    )
