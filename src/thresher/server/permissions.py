"""What each project role may do. Endpoints name an action; this table is the whole policy."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    READ = "read"  # projects, datasets, questions, guidelines, stats, workflow
    BROWSE = "browse"  # list and read any record and version (annotators reach records through their tasks)
    ANNOTATE = "annotate"  # submit and amend one's own responses
    REVIEW = "review"  # see everyone's responses, adjudicate
    WRITE = "write"  # create datasets, questions, records, versions, suggestions; import
    EXPORT = "export"  # export jobs and downloads
    MANAGE = "manage"  # members, API keys, webhooks, project settings
    CAPTURE = "capture"  # send capture events (the only thing an `app` key may do)


ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    "owner": frozenset(Action),
    "engineer": frozenset(
        {Action.READ, Action.BROWSE, Action.ANNOTATE, Action.REVIEW, Action.WRITE, Action.EXPORT, Action.CAPTURE}
    ),
    "reviewer": frozenset({Action.READ, Action.BROWSE, Action.ANNOTATE, Action.REVIEW}),
    "annotator": frozenset({Action.READ, Action.ANNOTATE}),
    "app": frozenset({Action.CAPTURE}),
}


def allowed(role: str | None, action: Action) -> bool:
    return role is not None and action in ROLE_ACTIONS.get(role, frozenset())
