"""What the workflow API returns: plain frozen dataclasses, safe to show (no task tokens)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# workflows.status values; the last four are final.
ACTIVE_STATUSES = frozenset({"pending", "running", "waiting_approval"})
FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "timed_out"})


@dataclass(frozen=True)
class WorkflowStart:
    """The answer to start_workflow. ``created`` is False when the client key was used before:
    this is the workflow that key started, and nothing new was started."""

    id: str
    template: str
    execution_name: str
    execution_arn: str
    console_url: str
    status: str
    created: bool


@dataclass(frozen=True)
class StepRecord:
    """One state of the execution as it ran (a Map iteration or Parallel branch each count)."""

    name: str
    state_type: str
    status: str  # running, succeeded, failed, caught (failed, handled by a Catch), stopped
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None = None
    cause: str | None = None


@dataclass(frozen=True)
class Approval:
    """An approval request, without its task token."""

    id: str
    workflow_id: str
    step_name: str
    message: str
    status: str  # pending, approved, rejected, expired, cancelled
    requested_at: datetime
    expires_at: datetime | None
    decided_by: str | None = None
    decided_at: datetime | None = None
    comment: str | None = None


@dataclass(frozen=True)
class WorkflowStatus:
    id: str
    template: str
    status: str
    current_step: str | None
    execution_name: str
    execution_arn: str | None
    console_url: str | None
    requested_by: str
    input: dict[str, Any]
    output: Any
    error: str | None
    cause: str | None
    cost_usd: float
    budget_usd: float | None
    created_at: datetime
    finished_at: datetime | None
    slack_channel: str | None = None
    slack_thread_ts: str | None = None
    steps: tuple[StepRecord, ...] = ()
    approvals: tuple[Approval, ...] = field(default=())

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES
