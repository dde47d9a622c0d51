"""The jobs the Slack handlers hand to the Slack worker: one model per kind, told apart by
``kind``. Built on the request path from a validated Slack request, sent as JSON (no secrets)
and validated again by the worker before it acts on one.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from autodev.errors import InvalidInput
from autodev.slack.commands import Action


class _Job(BaseModel):
    """Who asked, and where the answer goes (``response_url``, else the channel)."""

    # defer_build: built on first use, so each handler builds only the job it hands over.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    user_id: str | None = None
    channel_id: str | None = None
    team_id: str | None = None
    thread_ts: str | None = None
    response_url: str | None = None
    # The id the request's log lines carry (the API Gateway request id), so the Slack
    # worker's lines about the job carry it too (autodev.observability).
    correlation_id: str | None = None

    @property
    def request_id(self) -> str | None:
        """What identifies the Slack request (the same on a redelivery)."""
        return None


class CommandJob(_Job):
    """A slash command that was parsed on the request path."""

    kind: Literal["command"] = "command"
    user_id: str
    action: Action
    template: str | None = None
    target_id: str | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    comment: str | None = None
    budget_usd: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    schedule: str | None = Field(default=None, max_length=300)
    timezone: str | None = Field(default=None, max_length=64)
    text: str | None = Field(default=None, max_length=4000)
    team: bool = False
    trigger_id: str | None = None

    @property
    def request_id(self) -> str | None:
        return self.trigger_id


class InteractionJob(_Job):
    """A click on one of autodev's buttons."""

    kind: Literal["interaction"] = "interaction"
    user_id: str
    action_id: str
    value: str = ""
    message_ts: str | None = None
    trigger_id: str | None = None
    action_ts: str | None = None

    @property
    def request_id(self) -> str | None:
        return self.trigger_id or self.action_ts


class MentionJob(_Job):
    """A mention of autodev in a channel or a workflow's thread."""

    kind: Literal["mention"] = "mention"
    event_id: str | None = None
    ts: str | None = None
    text: str = Field(default="", max_length=3000)

    @property
    def request_id(self) -> str | None:
        return self.event_id


SlackJob = Annotated[CommandJob | InteractionJob | MentionJob, Field(discriminator="kind")]


# Built on first use: only the Slack worker parses jobs; the request handlers, which only
# build them, do not pay for the union's schema on their cold start.
@cache
def _job_adapter() -> TypeAdapter[SlackJob]:
    return TypeAdapter[SlackJob](SlackJob)


def parse_job(raw: object) -> SlackJob:
    """A job from its JSON form; InvalidInput names the first thing that does not fit."""
    try:
        return _job_adapter().validate_python(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "job"
        raise InvalidInput(f"not a Slack job: {where}: {first['msg']}") from None


def job_json(job: SlackJob) -> dict[str, Any]:
    """The job as the JSON document the worker receives."""
    return job.model_dump(mode="json")
