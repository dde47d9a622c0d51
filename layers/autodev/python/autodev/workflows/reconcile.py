"""Reconciling workflows with their executions, so that none is left ``running`` forever.

A workflow's row says it runs while Step Functions runs its execution; the two can part when
the execution ends without its last state running (stopped in the console, timed out as a
whole, a last Lambda that kept failing) or when the execution is gone (the local engine keeps
executions in memory: after ``autodev local down`` or a crash, none of them exists). Each pass
compares the active workflows, least recently checked first, with DescribeExecution:

- the execution ended: the workflow ends as it did (its error and cause kept);
- the execution does not exist: the workflow fails with ``ExecutionLost`` and a cause that
  says so;
- it runs: nothing changes.

An ended workflow's queued and running tasks are cancelled and its pending approvals expire
(``finish.end_workflow``); its result is delivered like any other. Workflows younger than the
grace period are left alone (a start writes the row a moment before StartExecution).

In AWS the rescuer function runs a pass every minute; the local stack runs one when it starts
(with no grace: no execution of the new engine can be older than it) and then periodically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from autodev.db import connection
from autodev.observability import child_logger
from autodev.workflows import sfn
from autodev.workflows.finish import end_workflow, finish_workflow
from autodev.workflows.status import EXECUTION_STATUS

log = child_logger(__name__)

LOST_ERROR = "ExecutionLost"
LOST_CAUSE = (
    "its Step Functions execution no longer exists, so nothing can carry it on (the engine that"
    " ran it was stopped or reset, as the local stack's is by `autodev local down` or a crash)"
)
GRACE_SECONDS = 120.0
BATCH = 100


@dataclass
class ReconcileReport:
    checked: int = 0
    lost: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    errors: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "lost": list(self.lost),
            "ended": list(self.ended),
            "errors": self.errors,
        }


def _due(grace_seconds: float, limit: int) -> list[dict[str, Any]]:
    """Active workflows older than the grace, least recently checked first; stamped as
    checked now, so two passes at once share the work instead of doing it twice."""
    with connection() as conn:
        rows = conn.execute(
            """UPDATE workflows SET reconciled_at = now()
               WHERE id IN (
                   SELECT id FROM workflows
                   WHERE status IN ('pending', 'running', 'waiting_approval')
                     AND created_at <= now() - make_interval(secs => %s)
                   ORDER BY coalesce(reconciled_at, created_at)
                   LIMIT %s FOR UPDATE SKIP LOCKED)
               RETURNING id::text, execution_arn""",
            (grace_seconds, limit),
        ).fetchall()
    return [dict(row) for row in rows]


def reconcile_workflows(
    *, grace_seconds: float = GRACE_SECONDS, limit: int = BATCH
) -> ReconcileReport:
    """One pass over the active workflows (see the module's description)."""
    report = ReconcileReport()
    client = sfn.sfn()
    for row in _due(grace_seconds, limit):
        report.checked += 1
        workflow_id, arn = str(row["id"]), row["execution_arn"]
        described: dict[str, Any] | None
        try:
            described = client.describe_execution(executionArn=arn) if arn else None
        except (ClientError, BotoCoreError) as error:
            if sfn.error_code(error) != "ExecutionDoesNotExist":
                log.warning("could not check workflow %s: %s", workflow_id, error)
                report.errors += 1
                continue
            described = None
        if described is None:
            if end_workflow(
                workflow_id, "failed", error=LOST_ERROR, cause=LOST_CAUSE, seen_by="reconciler"
            ):
                log.warning("workflow %s failed: its execution %s is gone", workflow_id, arn)
                report.lost.append(workflow_id)
            continue
        status = str(described["status"])
        if status not in EXECUTION_STATUS:
            continue  # RUNNING (or PENDING_REDRIVE): nothing to do
        if _end(workflow_id, described):
            log.warning("workflow %s ended %s without recording it", workflow_id, status)
            report.ended.append(workflow_id)
    return report


def _end(workflow_id: str, described: dict[str, Any]) -> bool:
    status = EXECUTION_STATUS[str(described["status"])]
    if status == "succeeded":
        # Its last state recorded nothing, but the output is there: the steps' results.
        try:
            steps = json.loads(described.get("output") or "{}")
        except ValueError:
            steps = {}
        result = finish_workflow(
            workflow_id, "succeeded", steps=steps if isinstance(steps, dict) else None
        )
        return result.status == "succeeded"
    ended = end_workflow(
        workflow_id,
        status,
        error=described.get("error"),
        cause=described.get("cause"),
        finished_at=described.get("stopDate"),
        seen_by="reconciler",
    )
    return ended is not None
