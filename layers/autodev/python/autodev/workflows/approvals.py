"""Approval requests: the task token stays in Postgres; people see an opaque approval id.

Who may answer is ``autodev.access``'s rule: an identity listed in ``APPROVERS``, or a member
of the Slack user group ``APPROVER_GROUP`` (Slack's usergroups.users.list, cached briefly;
tests pass their own resolver, ``(identity, group) -> bool``).

The first answer wins: the decision is an ``UPDATE ... WHERE status = 'pending'`` whose row lock
is held while Step Functions is told, so a second answer waits and then finds it decided.

Each request keeps a typed summary of what is asked (``approval_summary``) and, once the Slack
layer has posted its card, where (``record_card``). Whatever ends the request (an answer from
Slack or the CLI, a cancellation, the timeout) queues the card's closed form in the same
transaction (``autodev.slack.approval_cards``), so the card loses its buttons and shows who
decided and when, whichever surface it was.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import psycopg
from botocore.exceptions import BotoCoreError, ClientError
from psycopg.types.json import Jsonb

from autodev import access, audit, events, validation

# Re-exported: callers have always found these here.
from autodev.access import GroupResolver as GroupResolver
from autodev.access import register_group_resolver as register_group_resolver
from autodev.config import Settings, get_settings
from autodev.db import connection
from autodev.errors import AutodevError, NotFound
from autodev.observability import best_effort_failed, child_logger
from autodev.workflows import sfn
from autodev.workflows.approval_summary import ApprovalSummary
from autodev.workflows.ids import resolve_workflow_id
from autodev.workflows.models import Approval
from autodev.workflows.records import mark_step

log = child_logger(__name__)

REJECTED_ERROR = "ApprovalRejected"
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_GONE = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}
_COLUMNS = """id, workflow_id, step_name, message, status, requested_at, expires_at, decided_by,
    decided_at, comment, summary, slack_channel, slack_ts"""


class NotAllowed(AutodevError):
    """The person may not do this; nothing was changed."""


class AlreadyDecided(AutodevError):
    """The approval was answered before (or expired); nothing was changed."""


def is_allowed_approver(
    user_id: str, settings: Settings | None = None, group_resolver: GroupResolver | None = None
) -> bool:
    """Whether ``user_id`` (an identity, see ``autodev.access``) may answer approvals."""
    return access.is_approver(user_id, settings, group_resolver)


def _summary(raw: Any) -> ApprovalSummary | None:
    if not isinstance(raw, Mapping):
        return None
    try:
        return ApprovalSummary.model_validate(dict(raw))
    except ValueError:  # written by an older version: the card falls back to the message
        return None


def _approval(row: Mapping[str, Any]) -> Approval:
    return Approval(
        id=str(row["id"]),
        workflow_id=str(row["workflow_id"]),
        step_name=str(row["step_name"]),
        message=str(row["message"]),
        status=str(row["status"]),
        requested_at=row["requested_at"],
        expires_at=row["expires_at"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        comment=row["comment"],
        summary=_summary(row["summary"]),
        slack_channel=row["slack_channel"],
        slack_ts=row["slack_ts"],
    )


def request_approval(
    workflow_id: str,
    task_token: str,
    step_name: str,
    message: str,
    timeout_seconds: int,
    summary: ApprovalSummary | None = None,
) -> Approval:
    """Store an approval request and announce approval:requested.

    Once per step: a Step Functions Retry of the state (its Lambda answered with an error after
    the request was stored) comes with a new task token. The pending request of the same step
    then takes that token, the one Step Functions waits on now, instead of a second request
    being opened beside it (whose card would carry a token nobody waits for). It is not
    announced again: the first attempt did (publishing happens before the Lambda answers, and
    a failed publish is counted as a best-effort failure, never an error)."""
    encoded = Jsonb(summary.model_dump(mode="json")) if summary is not None else None
    with connection() as conn:
        row = conn.execute(
            f"""UPDATE approvals SET task_token = %s, message = %s,
                    summary = coalesce(%s, summary)
                WHERE workflow_id = %s AND step_name = %s AND status = 'pending'
                RETURNING {_COLUMNS}""",  # noqa: S608 - constant columns
            (task_token, message, encoded, workflow_id, step_name),
        ).fetchone()
        if row is not None:
            log.info("approval %s of %s now waits on the retry's token", row["id"], workflow_id)
            return _approval(row)
        row = conn.execute(
            f"""INSERT INTO approvals (id, workflow_id, step_name, message, task_token,
                    expires_at, summary)
                VALUES (%s, %s, %s, %s, %s, now() + make_interval(secs => %s), %s)
                ON CONFLICT (task_token) DO UPDATE SET message = EXCLUDED.message,
                    summary = EXCLUDED.summary
                RETURNING {_COLUMNS}""",  # noqa: S608 - constant columns
            (
                secrets.token_urlsafe(18),
                workflow_id,
                step_name,
                message,
                task_token,
                timeout_seconds,
                encoded,
            ),
        ).fetchone()
        assert row is not None
        mark_step(workflow_id, step_name, waiting=True, conn=conn)
        audit.record(
            "stepfunctions",
            "approval.requested",
            workflow_id,
            {"approval_id": row["id"], "step": step_name},
            conn=conn,
        )
        workflow = conn.execute(
            "SELECT template, requested_by, slack_channel, slack_thread_ts FROM workflows "
            "WHERE id = %s",
            (workflow_id,),
        ).fetchone()
    approval = _approval(row)
    # The schema is autodev.events.ApprovalRequested; the task token is never in it.
    detail: dict[str, Any] = {
        "workflow_id": workflow_id,
        "approval_id": approval.id,
        "step_name": step_name,
        "message": message,
        "approvers": list(get_settings().approvers),
        "expires_at": approval.expires_at,
    }
    if workflow is not None:
        detail.update(
            template=workflow["template"],
            requested_by=workflow["requested_by"],
            slack_channel=workflow["slack_channel"],
            slack_thread_ts=workflow["slack_thread_ts"],
        )
    try:
        events.publish("approval:requested", detail)
    except Exception:
        # The request stands and pending_approvals() shows it; do not fail the workflow.
        best_effort_failed("approval_event", log, workflow_id=workflow_id)
    return approval


def get_approval(approval_id: str) -> Approval:
    if not _ID_PATTERN.match(approval_id or ""):
        raise NotFound(f"no approval {approval_id!r}")
    with connection() as conn:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM approvals WHERE id = %s",  # noqa: S608 - constant columns
            (approval_id,),
        ).fetchone()
    if row is None:
        raise NotFound(f"no approval {approval_id!r}")
    return _approval(row)


def pending_approvals(workflow_id: str | None = None) -> list[Approval]:
    """Approvals still waiting for an answer: of one workflow (its id, execution name or short
    id), or all (oldest first)."""
    with connection() as conn:
        if workflow_id is None:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM approvals WHERE status = 'pending' "  # noqa: S608
                "ORDER BY requested_at"
            ).fetchall()
        else:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM approvals WHERE status = 'pending' "  # noqa: S608
                "AND workflow_id = %s ORDER BY requested_at",
                (resolve_workflow_id(workflow_id, conn),),
            ).fetchall()
    return [_approval(row) for row in rows]


def approval_to_answer(approval_or_workflow: str) -> str:
    """The approval a person means: an approval id as given, or, for a workflow (its id,
    execution name or short id), its pending approval, else its last one (answering that
    explains who decided it, or that it expired)."""
    try:
        workflow_id = resolve_workflow_id(approval_or_workflow)
    except NotFound:
        return approval_or_workflow  # no workflow reference: respond_to_approval checks it
    pending = pending_approvals(workflow_id)
    if pending:
        return pending[0].id
    asked = approvals_for(workflow_id)
    if asked:
        return asked[-1].id
    raise NotFound(f"workflow {approval_or_workflow} has no approval to answer")


def approvals_for(workflow_id: str) -> list[Approval]:
    """Every approval request of a workflow, oldest first."""
    with connection() as conn:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM approvals WHERE workflow_id = %s "  # noqa: S608
            "ORDER BY requested_at",
            (workflow_id,),
        ).fetchall()
    return [_approval(row) for row in rows]


def close_pending(
    workflow_id: str, status: str, *, conn: psycopg.Connection[Any], by: str | None = None
) -> list[Approval]:
    """Mark a workflow's pending approvals expired or cancelled (it ended without them), with
    who cancelled them (``by``) and when. Their Slack cards' closed forms are queued in the
    same transaction; pass the returned approvals to ``send_cards`` once it has committed."""
    rows = conn.execute(
        f"""UPDATE approvals SET status = %s, decided_by = %s, decided_at = now()
            WHERE workflow_id = %s AND status = 'pending'
            RETURNING {_COLUMNS}""",  # noqa: S608 - constant columns
        (status, by if status == "cancelled" else None, workflow_id),
    ).fetchall()
    closed = [_approval(row) for row in rows]
    for approval in closed:
        _close_card(approval, conn)
    return closed


def record_card(approval_id: str, channel: str, ts: str) -> Approval:
    """Remember where the approval's Slack card was posted. An approval that was decided
    before its card got there has the card closed at once."""
    with connection() as conn:
        row = conn.execute(
            f"""UPDATE approvals SET slack_channel = %s, slack_ts = %s WHERE id = %s
                RETURNING {_COLUMNS}""",  # noqa: S608 - constant columns
            (channel, ts, approval_id),
        ).fetchone()
        if row is None:
            raise NotFound(f"no approval {approval_id!r}")
        approval = _approval(row)
        if approval.decided:
            _close_card(approval, conn)
    if approval.decided:
        send_cards([approval])
    return approval


def _close_card(approval: Approval, conn: psycopg.Connection[Any]) -> None:
    """Queue the closed form of the approval's card, in the caller's transaction."""
    if approval.slack_channel and approval.slack_ts:
        from autodev.slack import approval_cards

        approval_cards.queue_closed(conn, approval)


def send_cards(approvals: list[Approval]) -> None:
    """Send the queued card edits now, when Slack can be called from here (best effort: the
    delivery sweep sends whatever is left)."""
    keys = [a.id for a in approvals if a.slack_channel and a.slack_ts]
    if keys:
        from autodev.slack import approval_cards

        approval_cards.send_now(keys)


def _decided_message(approval: Approval) -> str:
    if approval.status in {"approved", "rejected"} and approval.decided_at is not None:
        when = approval.decided_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        who = approval.decided_by
        return f"approval {approval.id} was already {approval.status} by {who} at {when}"
    return f"approval {approval.id} is {approval.status}: the workflow no longer waits for it"


def respond_to_approval(
    approval_id: str,
    approver: str,
    approved: bool,
    comment: str | None = None,
    *,
    group_resolver: GroupResolver | None = None,
) -> Approval:
    """Approve or reject; the first allowed answer wins and resumes the workflow.

    Raises NotFound (no such approval), NotAllowed (not an approver), AlreadyDecided (someone
    answered first, or it expired), or a StepFunctionsError whose message says why the
    workflow could not be told; in each case nothing else changes.
    """
    validation.check_text(approver, "the approver's id")
    if comment is not None:
        validation.check_text(comment, "the comment")
    current = get_approval(approval_id)
    if not is_allowed_approver(approver, group_resolver=group_resolver):
        log.info("%s tried to answer approval %s and is not an approver", approver, approval_id)
        raise NotAllowed(f"{approver} may not answer approvals: {access.APPROVE_RULE}")
    if current.status != "pending":
        raise AlreadyDecided(_decided_message(current))
    comment = (comment or "").strip() or None
    decision = "approved" if approved else "rejected"
    failure: AutodevError | None = None
    closed: list[Approval] = []
    with connection() as conn:
        row = conn.execute(
            f"""UPDATE approvals SET status = %s, decided_by = %s, decided_at = now(),
                    comment = %s
                WHERE id = %s AND status = 'pending'
                RETURNING task_token, {_COLUMNS}""",  # noqa: S608 - constant columns
            (decision, approver, comment, approval_id),
        ).fetchone()
        if row is None:
            failure = AlreadyDecided(_decided_message(get_approval(approval_id)))
        else:
            # The workflow's row too is locked before Step Functions hears of the answer: the
            # execution may end at once (a rejection fails it), and its last Lambda locks the
            # workflow, then its approvals. Locked after, the two deadlocked.
            conn.execute(
                "UPDATE workflows SET status = 'running', updated_at = now() "
                "WHERE id = %s AND status = 'waiting_approval'",
                (row["workflow_id"],),
            )
            try:
                _tell_step_functions(str(row["task_token"]), approver, approved, comment, row)
            except (ClientError, BotoCoreError) as error:
                conn.rollback()
                failure = sfn.explain(
                    error, f"record the {'approval' if approved else 'rejection'}"
                )
                if sfn.error_code(error) in _GONE:
                    gone = conn.execute(
                        f"""UPDATE approvals SET status = 'expired', decided_at = now()
                            WHERE id = %s AND status = 'pending'
                            RETURNING {_COLUMNS}""",  # noqa: S608 - constant columns
                        (approval_id,),
                    ).fetchone()
                    if gone is not None:
                        closed.append(_approval(gone))
                        _close_card(closed[-1], conn)
            else:
                closed.append(_approval(row))
                _close_card(closed[-1], conn)
                audit.record(
                    approver,
                    f"approval.{decision}",
                    str(row["workflow_id"]),
                    {"approval_id": approval_id, "comment": comment},
                    conn=conn,
                )
    send_cards(closed)
    if failure is not None:
        raise failure
    assert row is not None
    return _approval(row)


def _tell_step_functions(
    token: str, approver: str, approved: bool, comment: str | None, row: Mapping[str, Any]
) -> None:
    client = sfn.sfn()
    if approved:
        client.send_task_success(
            taskToken=token,
            output=json.dumps(
                {
                    "approved": True,
                    "approval_id": row["id"],
                    "approver": approver,
                    "comment": comment,
                    "decided_at": datetime.now(UTC).isoformat(),
                }
            ),
        )
    else:
        cause = f"Rejected by {approver}" + (f": {comment}" if comment else "")
        client.send_task_failure(taskToken=token, error=REJECTED_ERROR, cause=cause[:32_000])
