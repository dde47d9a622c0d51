"""Cancelling a workflow: its execution stopped, its tasks and pending approvals cancelled.

Who may: the rule of ``autodev.access`` (who requested it, the approvers, the admins), the same
for the CLI, the slash command and the Cancel button. A refusal changes nothing but the audit
trail, which records it as it records a cancellation.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from autodev import access, audit, validation
from autodev.db import connection
from autodev.errors import AutodevError
from autodev.observability import child_logger
from autodev.orchestrator import queue
from autodev.workflows import approvals, records, sfn
from autodev.workflows.approvals import NotAllowed
from autodev.workflows.finish import deliver_outcome
from autodev.workflows.ids import resolve_workflow_id
from autodev.workflows.models import FINAL_STATUSES, WorkflowStatus
from autodev.workflows.status import to_status

log = child_logger(__name__)


def cancel_workflow(
    workflow_id: str, by: str, *, group_resolver: access.GroupResolver | None = None
) -> WorkflowStatus:
    """Stop the execution, cancel its queued and running tasks and pending approvals.

    Raises NotAllowed (audited as ``workflow.cancel_refused``) unless ``by`` may cancel it.
    """
    validation.check_text(by, "the canceller's id")
    workflow_id = resolve_workflow_id(workflow_id)
    with connection() as conn:
        row = records.load(conn, workflow_id)
    requested_by = str(row["requested_by"])
    if not access.may_cancel(by, requested_by, group_resolver=group_resolver):
        log.info("%s may not cancel workflow %s", by, workflow_id)
        audit.record(by, "workflow.cancel_refused", workflow_id, {"requested_by": requested_by})
        raise NotAllowed(f"{by} may not cancel workflow {workflow_id}: {access.CANCEL_RULE}")
    if row["status"] in FINAL_STATUSES:
        raise AutodevError(f"workflow {workflow_id} has already finished ({row['status']})")
    reason = f"cancelled by {by}"
    if row["execution_arn"]:
        try:
            sfn.sfn().stop_execution(
                executionArn=row["execution_arn"], error="WorkflowCancelled", cause=reason
            )
        except (ClientError, BotoCoreError) as error:
            if sfn.error_code(error) != "ExecutionDoesNotExist":
                raise sfn.explain(error, f"cancel workflow {workflow_id}") from None
    cancelled_tasks = queue.cancel_workflow_tasks(workflow_id, reason)
    with connection() as conn:
        updated = conn.execute(
            """UPDATE workflows SET status = 'cancelled', error = 'WorkflowCancelled', cause = %s,
                   finished_at = now(), updated_at = now(), cost_usd = %s
               WHERE id = %s AND status IN ('pending', 'running', 'waiting_approval')
               RETURNING *""",
            (reason, queue.workflow_spend(workflow_id, conn=conn), workflow_id),
        ).fetchone()
        closed = approvals.close_pending(workflow_id, "cancelled", conn=conn, by=by)
        audit.record(
            by,
            "workflow.cancelled",
            workflow_id,
            {"tasks_cancelled": len(cancelled_tasks), "requested_by": requested_by},
            conn=conn,
        )
        final = dict(updated) if updated is not None else records.load(conn, workflow_id)
        if updated is not None:
            deliver_outcome(conn, final)
    approvals.send_cards(closed)
    return to_status(final, [], None)
