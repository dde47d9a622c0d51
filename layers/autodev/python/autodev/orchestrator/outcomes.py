"""Telling Step Functions how a task ended: SendTaskSuccess, SendTaskFailure, heartbeats.

The task's outcome is committed to Postgres first; then it is sent, and the send is recorded
(``outcome_sent_at``). A worker that dies in between leaves the outcome in that outbox, and
the rescuer sends it. Step Functions accepts a task token's outcome once: a token that was
already answered (or whose execution has ended) is refused with ``TaskTimedOut``,
``TaskDoesNotExist`` or ``InvalidToken``: then nobody waits for the outcome any more, so it
leaves the outbox too, recorded as refused with that error (``outcome_refused``), not as
delivered. An outcome reaches a workflow at most once.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from autodev.aws import client
from autodev.observability import child_logger
from autodev.orchestrator import queue

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

log = child_logger(__name__)

# Step Functions' limits on SendTaskFailure (characters) and on a task output (bytes).
MAX_ERROR_CHARS = 256
MAX_CAUSE_CHARS = 32_768
MAX_OUTPUT_BYTES = 256 * 1024

# Answers that mean the token will never take an outcome (again).
_GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class DeliveryFailed(Exception):
    """The outcome could not be sent now (a transient error); it stays in the outbox."""


def _error_code(error: ClientError) -> str:
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code.rsplit("#", 1)[-1]


def _call(operation: str, **kwargs: Any) -> str | None:
    """None when Step Functions took it; the error code when the token no longer takes an
    outcome (``_GONE``); DeliveryFailed for anything else."""
    # With the client, not with this module: a worker starts without botocore (the client it
    # sends with is made in the background during its first session).
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        getattr(client("stepfunctions"), operation)(**kwargs)
    except ClientError as error:
        code = _error_code(error)
        if code in _GONE:
            log.info("%s: the task token no longer waits (%s)", operation, code)
            return code
        raise DeliveryFailed(f"{operation} failed: {code or error}") from error
    except BotoCoreError as error:
        raise DeliveryFailed(f"{operation} failed: {error}") from error
    return None


def _success(task_token: str, output: dict[str, Any]) -> str | None:
    encoded = json.dumps(output, default=str)
    if len(encoded.encode()) > MAX_OUTPUT_BYTES:
        raise ValueError("a task output must stay under 256 KB; store artifacts separately")
    return _call("send_task_success", taskToken=task_token, output=encoded)


def _failure(task_token: str, error: str, cause: str) -> str | None:
    return _call(
        "send_task_failure",
        taskToken=task_token,
        error=error[:MAX_ERROR_CHARS],
        cause=cause[:MAX_CAUSE_CHARS],
    )


def send_success(task_token: str, output: dict[str, Any]) -> str:
    """'sent', or 'gone' when the token no longer takes an outcome."""
    return "sent" if _success(task_token, output) is None else "gone"


def send_failure(task_token: str, error: str, cause: str) -> str:
    """'sent', or 'gone' when the token no longer takes an outcome."""
    return "sent" if _failure(task_token, error, cause) is None else "gone"


def heartbeat_refused(task_token: str) -> str | None:
    """Tell Step Functions the task is alive; its error when the execution no longer waits
    (None: it does, or a transient failure the next heartbeat may get past)."""
    try:
        return _call("send_task_heartbeat", taskToken=task_token)
    except DeliveryFailed as error:
        log.warning("heartbeat not sent: %s", error)
        return None


def heartbeat(task_token: str) -> bool:
    """Tell Step Functions the task is alive; False when the execution no longer waits."""
    return heartbeat_refused(task_token) is None


def deliver(pending: queue.PendingOutcome) -> str:
    """Send one finished task's outcome and record how it went; returns 'sent' or 'gone'
    (refused: the token no longer waits, recorded with Step Functions' error)."""
    if pending.status == "succeeded":
        refused = _success(pending.task_token, pending.result or {})
    else:
        code = pending.error_code or (
            queue.ERROR_CANCELLED if pending.status == "cancelled" else queue.ERROR_FAILED
        )
        cause = pending.error or f"the task ended {pending.status}"
        refused = _failure(pending.task_token, code, cause)
    queue.mark_outcome_sent(pending.task_id, refused=refused)
    return "sent" if refused is None else "gone"


def deliver_task(task_id: str) -> str | None:
    """Deliver this task's outcome if it is finished and not yet sent (None: nothing to do)."""
    for pending in queue.pending_outcomes(older_than_seconds=0, limit=1, task_id=task_id):
        return deliver(pending)
    return None


def deliver_pending(older_than_seconds: float = 30.0, limit: int = 100) -> dict[str, int]:
    """Send every outcome left in the outbox (the rescuer's second job)."""
    counts = {"sent": 0, "gone": 0, "failed": 0}
    for pending in queue.pending_outcomes(older_than_seconds=older_than_seconds, limit=limit):
        try:
            counts[deliver(pending)] += 1
        except DeliveryFailed as error:
            log.warning("outcome of task %s not delivered yet: %s", pending.task_id, error)
            counts["failed"] += 1
    return counts
