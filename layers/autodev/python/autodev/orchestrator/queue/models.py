"""What the task queue takes and gives back: requests, claimed tasks, outcomes, status.

None of these carries a task token out of the orchestrator except ``ClaimedTask`` (which stays
inside the worker that holds the lease) and ``PendingOutcome`` (which the outcome sender uses
to answer Step Functions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

PRIORITIES = ("critical", "high", "normal", "low")
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "dead", "cancelled"})

# Error names a failed task reports to Step Functions (SendTaskFailure's ``error``), so that a
# workflow can tell why a step failed: ``Catch`` on them, or show them.
ERROR_FAILED = "Autodev.TaskFailed"
ERROR_RETRIES_EXHAUSTED = "Autodev.RetriesExhausted"
ERROR_WORKER_LOST = "Autodev.WorkerLost"
ERROR_CANCELLED = "Autodev.Cancelled"
ERROR_TIMEOUT = "Autodev.Timeout"
ERROR_BUDGET = "Autodev.BudgetExceeded"
ERROR_WORKFLOW_BUDGET = "Autodev.WorkflowBudgetExceeded"
ERROR_TURN_LIMIT = "Autodev.TurnLimitReached"
ERROR_REPEATED = "Autodev.RepeatedError"

# How long after an attempt's time limit its worker may still record the outcome (a slow or
# briefly unreachable database), and the rescuer leaves a live worker's lease alone.
RECORD_GRACE_SECONDS = 120.0


def attempt_deadline(claimed_at: datetime, timeout_ms: int) -> datetime:
    """When an attempt claimed at ``claimed_at`` must have recorded its outcome: its time
    limit plus ``RECORD_GRACE_SECONDS``. The worker stops trying to record it then, and the
    rescuer takes the task back from a worker that is still alive."""
    return claimed_at + timedelta(milliseconds=timeout_ms, seconds=RECORD_GRACE_SECONDS)


@dataclass(frozen=True)
class TaskSpec:
    """What a caller asks the orchestrator to run."""

    task_type: str
    prompt: str
    priority: str = "normal"
    context: dict[str, Any] = field(default_factory=dict)
    allowed_tools: tuple[str, ...] = ()
    max_turns: int = 30
    budget_usd: float | None = None
    timeout_ms: int | None = None
    max_attempts: int | None = None
    workflow_id: str | None = None
    step_name: str | None = None
    task_token: str | None = None
    # The attempt of a workflow step this task runs (see migration 0008): submitting a spec
    # with the key of a task already queued returns that task and refreshes its token.
    step_key: str | None = None


@dataclass(frozen=True)
class SubmittedTask:
    """What submitting a task did: queued a new one, or found the one with its step key."""

    id: str
    created: bool
    status: str

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class RenewedLease:
    """A lease renewed, with the task token Step Functions waits on now (a retried step
    refreshes it, so a worker heartbeats and answers with this one, not the one it claimed)."""

    task_token: str | None


@dataclass(frozen=True)
class ExpiredLease:
    """A running task whose lease has lapsed: its owner died, or is alive but could not renew
    (the database was unreachable)."""

    task_id: str
    owner: str
    deadline: datetime


@dataclass(frozen=True)
class ClaimedTask:
    """A task a worker holds the lease on. ``task_token`` stays inside the worker."""

    id: str
    workflow_id: str | None
    step_name: str | None
    task_type: str
    prompt: str
    context: dict[str, Any]
    allowed_tools: tuple[str, ...]
    max_turns: int
    budget_usd: float | None
    priority: str
    timeout_ms: int
    attempts: int
    max_attempts: int
    task_token: str | None
    lease_expires_at: datetime
    claimed_at: datetime

    @property
    def deadline(self) -> datetime:
        """When this attempt must have recorded its outcome (see ``attempt_deadline``)."""
        return attempt_deadline(self.claimed_at, self.timeout_ms)


@dataclass(frozen=True)
class FailureOutcome:
    """What became of a failed attempt: queued again, or finished for good."""

    task_id: str
    status: str
    task_token: str | None
    error: str
    retry_in_seconds: float | None = None
    error_code: str = ERROR_FAILED

    @property
    def final(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class PendingOutcome:
    """A finished task whose outcome Step Functions has not been told yet."""

    task_id: str
    status: str
    task_token: str
    result: dict[str, Any] | None
    error: str | None
    error_code: str | None


class TaskStatus(BaseModel):
    """A task as ``get_task_status`` shows it: state, attempts, usage, result; never its token."""

    # ``model`` and ``model_provider`` are the spec's column names, not pydantic's namespace.
    model_config = ConfigDict(frozen=True, protected_namespaces=(), defer_build=True)

    id: str
    workflow_id: str | None
    step_name: str | None
    task_type: str
    priority: str
    status: str
    attempts: int
    max_attempts: int
    last_error: str | None
    error_code: str | None
    result: dict[str, Any] | None
    model: str | None
    model_provider: str | None
    turns: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    cost_usd: float
    budget_usd: float | None
    max_turns: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    available_at: datetime
    outcome_sent_at: datetime | None
    # Step Functions' error when it refused the outcome (nobody waited any more); None: taken.
    outcome_refused: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


class QueueDepth(BaseModel):
    """Queued tasks by priority, the running count, and the age of the oldest queued task."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    queued: dict[str, int]
    running: int
    oldest_queued_seconds: float | None

    @property
    def total_queued(self) -> int:
        return sum(self.queued.values())
