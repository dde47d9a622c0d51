"""The task queue in ``autonomous_tasks``, which the orchestrator alone reads and writes.

By use case: ``claims`` (submit, claim, lease, finish, cancel), ``outbox`` (outcomes Step
Functions has yet to hear, heartbeats of queued tasks), ``usage`` (tokens and cost, and what
a workflow's tasks have cost), ``status`` (one task, the queue's depth), ``watch`` (what
monitoring watches: expired leases, outcomes in a window, dead tasks, budget stops),
``results`` (finished tasks whose result is yet to be published). Callers use the names below
(``from autodev.orchestrator import queue``; ``queue.claim_next(...)``).
"""

from autodev.orchestrator.queue.claims import (
    BACKOFF_CAP_SECONDS,
    backoff_seconds,
    cancel_task,
    cancel_workflow_tasks,
    claim_next,
    complete_task,
    expired_leases,
    extend_expired_lease,
    fail_task,
    renew_lease,
    rescue_expired,
    submit,
    submit_task,
)
from autodev.orchestrator.queue.models import (
    ERROR_BUDGET,
    ERROR_CANCELLED,
    ERROR_FAILED,
    ERROR_REPEATED,
    ERROR_RETRIES_EXHAUSTED,
    ERROR_TIMEOUT,
    ERROR_TURN_LIMIT,
    ERROR_WORKER_LOST,
    ERROR_WORKFLOW_BUDGET,
    PRIORITIES,
    RECORD_GRACE_SECONDS,
    TERMINAL_STATUSES,
    ClaimedTask,
    ExpiredLease,
    FailureOutcome,
    PendingOutcome,
    QueueDepth,
    RenewedLease,
    SubmittedTask,
    TaskSpec,
    TaskStatus,
    attempt_deadline,
)
from autodev.orchestrator.queue.outbox import (
    mark_outcome_sent,
    pending_outcomes,
    queued_needing_heartbeat,
)
from autodev.orchestrator.queue.results import FinishedTask, claim_unpublished, mark_published
from autodev.orchestrator.queue.status import get_task_status, queue_depth, workflow_tasks
from autodev.orchestrator.queue.usage import record_usage, usage_since, workflow_spend
from autodev.orchestrator.queue.watch import (
    EndedTask,
    budget_stops_since,
    dead_since,
    expired_lease_count,
    finished_counts,
)

__all__ = [
    "BACKOFF_CAP_SECONDS",
    "ERROR_BUDGET",
    "ERROR_CANCELLED",
    "ERROR_FAILED",
    "ERROR_REPEATED",
    "ERROR_RETRIES_EXHAUSTED",
    "ERROR_TIMEOUT",
    "ERROR_TURN_LIMIT",
    "ERROR_WORKER_LOST",
    "ERROR_WORKFLOW_BUDGET",
    "PRIORITIES",
    "RECORD_GRACE_SECONDS",
    "TERMINAL_STATUSES",
    "ClaimedTask",
    "EndedTask",
    "ExpiredLease",
    "FailureOutcome",
    "FinishedTask",
    "PendingOutcome",
    "QueueDepth",
    "RenewedLease",
    "SubmittedTask",
    "TaskSpec",
    "TaskStatus",
    "attempt_deadline",
    "backoff_seconds",
    "budget_stops_since",
    "cancel_task",
    "cancel_workflow_tasks",
    "claim_next",
    "claim_unpublished",
    "complete_task",
    "dead_since",
    "expired_lease_count",
    "expired_leases",
    "extend_expired_lease",
    "fail_task",
    "finished_counts",
    "get_task_status",
    "mark_outcome_sent",
    "mark_published",
    "pending_outcomes",
    "queue_depth",
    "queued_needing_heartbeat",
    "record_usage",
    "renew_lease",
    "rescue_expired",
    "submit",
    "submit_task",
    "usage_since",
    "workflow_spend",
    "workflow_tasks",
]
