"""The spec's event hooks, published to an EventBridge bus as detail types.

Detail types: ``task:completed``, ``task:failed``, ``workflow:completed``,
``approval:requested``, ``progress:updated``, ``progress:completed``, ``alert``. The source is
always ``autodev``. On the local stack the bus is moto's EventBridge.

Each detail type has a documented schema (the pydantic models below; ``docs/events.md`` shows
them): ``publish`` validates the detail against it and refuses a detail that does not fit, so
a consumer can rely on the shape. Fields beyond the schema are refused too, so a typo cannot
slip through unnoticed. Every detail carries ``event_id``: stable across redelivery, so that
consumers can deduplicate (EventBridge itself delivers at least once).
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autodev.aws import client
from autodev.errors import InvalidInput

SOURCE = "autodev"


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid.uuid4())


class EventDetail(BaseModel):
    """Fields every detail has."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    event_id: str = Field(default_factory=_new_id, description="stable id for deduplication")
    occurred_at: datetime = Field(default_factory=_now, description="when it happened (UTC)")


class Metrics(BaseModel):
    """What a Claude Code run has used so far (cumulative); also what ``autodev.progress``
    keeps for each task and workflow. Strict: a count is an int, never a bool or a string."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

    messages: int = Field(default=0, ge=0)
    tokens: int = Field(default=0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)
    files_modified: int = Field(default=0, ge=0)
    tool_calls: int = Field(default=0, ge=0)


class TaskCompleted(EventDetail):
    task_id: str
    workflow_id: str | None = None
    step_name: str | None = None
    task_type: str | None = None
    result_id: str | None = Field(default=None, description="GET /results/{id} serves it")
    result: dict[str, Any] = Field(default_factory=dict)


class TaskFailed(EventDetail):
    task_id: str
    workflow_id: str | None = None
    step_name: str | None = None
    task_type: str | None = None
    result_id: str | None = None
    error: str
    attempts: int | None = Field(default=None, ge=0)


class WorkflowCompleted(EventDetail):
    workflow_id: str
    template: str | None = None
    status: Literal["succeeded", "failed", "cancelled", "timed_out"]
    result_id: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class ApprovalRequested(EventDetail):
    workflow_id: str
    approval_id: str = Field(description="the opaque approval id (never the task token)")
    step_name: str | None = None
    message: str
    approvers: list[str] = Field(default_factory=list)
    expires_at: datetime | None = Field(default=None, description="when the approval times out")
    template: str | None = None
    requested_by: str | None = None
    slack_channel: str | None = Field(default=None, description="the workflow's Slack channel")
    slack_thread_ts: str | None = Field(default=None, description="the workflow's Slack thread")


class ProgressUpdated(EventDetail):
    task_id: str
    kind: Literal["task", "workflow"] = "task"
    task_type: str
    workflow_id: str | None = None
    percent: float = Field(ge=0, le=100)
    stage: str | None = None
    stage_index: int = Field(ge=0)
    stage_count: int = Field(ge=0)
    status_message: str = ""
    eta_seconds: float | None = Field(default=None, description="null while unknown")
    metrics: Metrics = Field(default_factory=Metrics)


class ProgressCompleted(EventDetail):
    task_id: str
    kind: Literal["task", "workflow"] = "task"
    task_type: str
    workflow_id: str | None = None
    status: Literal["completed", "failed", "cancelled"]
    duration_seconds: float = Field(ge=0)
    metrics: Metrics = Field(default_factory=Metrics)


class Alert(EventDetail):
    alert_type: str
    severity: Literal["info", "warning", "critical"]
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    fingerprint: str | None = None


SCHEMAS: dict[str, type[EventDetail]] = {
    "task:completed": TaskCompleted,
    "task:failed": TaskFailed,
    "workflow:completed": WorkflowCompleted,
    "approval:requested": ApprovalRequested,
    "progress:updated": ProgressUpdated,
    "progress:completed": ProgressCompleted,
    "alert": Alert,
}
EVENT_TYPES = frozenset(SCHEMAS)


def bus_name() -> str:
    return os.environ.get("AUTODEV_EVENT_BUS", "autodev")


def configured() -> bool:
    """Whether a bus is configured (``AUTODEV_EVENT_BUS``; infra and the local stack set it).

    Components that emit events as a side effect (progress, result deliveries) skip them
    when it is not, so that a process without AWS never reaches for it.
    """
    return bool(os.environ.get("AUTODEV_EVENT_BUS"))


def validate(detail_type: str, detail: dict[str, Any] | EventDetail) -> EventDetail:
    """The detail as its schema's model; InvalidInput names what does not fit."""
    schema = SCHEMAS.get(detail_type)
    if schema is None:
        raise InvalidInput(f"unknown event type {detail_type!r}")
    if isinstance(detail, schema):
        return detail
    raw = detail.model_dump() if isinstance(detail, EventDetail) else detail
    try:
        return schema.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "detail"
        raise InvalidInput(f"{detail_type} event: {where}: {first['msg']}") from None


def entry(
    detail_type: str, detail: dict[str, Any] | EventDetail, *, bus: str | None = None
) -> dict[str, Any]:
    """The PutEvents entry for one validated event."""
    model = validate(detail_type, detail)
    return {
        "Source": SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(model.model_dump(mode="json")),
        "EventBusName": bus or bus_name(),
    }


class PublishFailed(Exception):
    """EventBridge did not accept the event."""


def publish(
    detail_type: str, detail: dict[str, Any] | EventDetail, *, bus: str | None = None
) -> str:
    """Publish one event after validating its detail; returns the detail's ``event_id``.

    Raises InvalidInput for an unknown detail type or a detail that does not fit its schema
    (nothing is sent), PublishFailed when EventBridge refuses the entry.
    """
    item = entry(detail_type, detail, bus=bus)
    answer = client("events").put_events(Entries=[item])
    if answer.get("FailedEntryCount"):
        failed = answer["Entries"][0]
        reason = f"{failed.get('ErrorCode')} {failed.get('ErrorMessage')}"
        raise PublishFailed(f"EventBridge refused {detail_type}: {reason}")
    return str(json.loads(item["Detail"])["event_id"])
