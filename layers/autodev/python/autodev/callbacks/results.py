"""Results: cached in ``task_results`` (what polling serves) and queued for every callback.

``deliver_result`` writes the result and one outbox row per delivery in one transaction, so
a result is never cached without its deliveries nor delivered without being cached. The
delivery ids are derived from the result and the callback, so writing the same result
again (a retried Lambda) queues nothing new, while a changed result is delivered anew.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb

from autodev import events
from autodev.callbacks import outbox
from autodev.callbacks.models import Artifact, CachedResult
from autodev.callbacks.registry import Conn, callbacks_for, check_kind
from autodev.db import connection, in_transaction
from autodev.errors import InvalidInput, NotFound
from autodev.observability import best_effort_failed, child_logger

logger = child_logger(__name__)

_DELIVERY_NAMESPACE = uuid.UUID("5b0c7f52-3f0e-4b8e-9a57-6a7c2f1f0d11")
FINAL_STATUSES = ("succeeded", "failed", "cancelled", "timed_out")
_STATUS_ALIASES = {"success": "succeeded", "completed": "succeeded", "error": "failed"}


def result_status(result: dict[str, Any]) -> str:
    """succeeded, failed, cancelled or timed_out, from ``status`` or the spec's ``success``."""
    raw = result.get("status")
    if isinstance(raw, str):
        status = _STATUS_ALIASES.get(raw.lower(), raw.lower())
        if status in FINAL_STATUSES:
            return status
        raise InvalidInput(f"result status must be one of {', '.join(FINAL_STATUSES)}")
    return "failed" if result.get("success") is False or result.get("error") else "succeeded"


def _event_type(target_kind: str, status: str) -> str:
    if target_kind == "workflow":
        return "workflow.completed"
    return "task.completed" if status == "succeeded" else "task.failed"


def _envelope(
    result_id: str, target_id: str, target_kind: str, status: str, result: dict[str, Any]
) -> dict[str, Any]:
    """The body every channel delivers (Standard Webhooks' type/timestamp/data form)."""
    return {
        "type": _event_type(target_kind, status),
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {
            "result_id": result_id,
            "target_id": target_id,
            "target_kind": target_kind,
            "status": status,
            "result": result,
        },
    }


def _delivery_id(result_id: str, route: str, content: str) -> str:
    digest = hashlib.sha256(content.encode()).hexdigest()
    return str(uuid.uuid5(_DELIVERY_NAMESPACE, f"{result_id}:{route}:{digest}"))


def _write(conn: Conn, target_id: str, result: dict[str, Any], target_kind: str) -> str:
    status = result_status(result)
    content = json.dumps(result, default=str, sort_keys=True)
    row = conn.execute(
        "INSERT INTO task_results (id, target_id, target_kind, status, content, size_bytes)"
        " VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (target_id, name) DO UPDATE SET status = EXCLUDED.status,"
        " content = EXCLUDED.content, size_bytes = EXCLUDED.size_bytes,"
        " created_at = now() RETURNING id",
        (
            str(uuid.uuid4()),
            target_id,
            target_kind,
            status,
            Jsonb(json.loads(content)),
            len(content.encode()),
        ),
    ).fetchone()
    assert row is not None
    result_id = str(row["id"])
    envelope = _envelope(result_id, target_id, target_kind, status, json.loads(content))
    registered = callbacks_for(conn, target_id)
    routes: list[tuple[str | None, str]] = [
        (str(cb["id"]), str(cb["callback_type"])) for cb in registered
    ]
    default_bus_taken = any(
        cb["callback_type"] == "event" and not cb["config"].get("bus") for cb in registered
    )
    if events.configured() and not default_bus_taken:
        routes.append((None, "event"))  # the spec's events are always emitted
    for callback_id, channel in routes:
        delivery_id = _delivery_id(result_id, callback_id or "bus", content)
        outbox.enqueue(conn, delivery_id, result_id, callback_id, target_id, channel, envelope)
    return result_id


def deliver_result(
    target_id: str,
    result: dict[str, Any],
    *,
    target_kind: str = "workflow",
    conn: Conn | None = None,
    finish_progress: bool = True,
) -> str:
    """Cache ``result`` for a task or workflow and queue it to every registered callback
    (plus the spec's event on the bus); returns the result id. Pass ``conn`` to write in the
    caller's transaction. The deliveries are sent by ``deliver_due`` (the deliver_results
    function), at least once each, with a stable id. The target's live progress is marked
    finished (another connection) unless ``finish_progress`` is False: a caller holding its
    transaction open on a pool of one does that itself after committing."""
    check_kind(target_kind)
    if not isinstance(result, dict):
        raise InvalidInput("a result is a JSON object")
    if not str(target_id or "").strip():
        raise InvalidInput("a result needs a task or workflow id")
    with in_transaction(conn) as tx:
        result_id = _write(tx, str(target_id), result, target_kind)
    if finish_progress:
        _finish_progress(str(target_id), result_status(result))
    return result_id


def finish_progress(target_id: str, status: str) -> None:
    """Mark the target's live progress finished, if it is tracked (best effort), for a
    caller that passed ``finish_progress=False`` to ``deliver_result``."""
    _finish_progress(target_id, status)


def _finish_progress(target_id: str, status: str) -> None:
    """Mark the target's live progress finished, if it is tracked (best effort)."""
    from autodev import progress

    final = {"succeeded": "completed", "cancelled": "cancelled"}.get(status, "failed")
    try:
        if progress.get_progress(target_id) is not None:
            progress.complete(target_id, status=final, wait_for_slack=False)
    except Exception:
        best_effort_failed("progress_tracking", logger, target_id=target_id)


def save_artifact(
    target_id: str,
    name: str,
    body: str,
    *,
    content_type: str = "text/plain",
    target_kind: str = "task",
    conn: Conn | None = None,
) -> str:
    """Store a large artifact (a diff, a report) for a task or workflow; returns its id,
    which a result references and ``GET /results/{id}`` serves."""
    check_kind(target_kind)
    if not name or name == "result":
        raise InvalidInput("an artifact needs a name other than 'result'")
    query = (
        "INSERT INTO task_results (id, target_id, target_kind, result_type, name, status, body,"
        " content_type, size_bytes) VALUES (%s, %s, %s, 'artifact', %s, 'stored', %s, %s, %s)"
        " ON CONFLICT (target_id, name) DO UPDATE SET body = EXCLUDED.body,"
        " content_type = EXCLUDED.content_type, size_bytes = EXCLUDED.size_bytes RETURNING id"
    )
    params = (
        str(uuid.uuid4()),
        target_id,
        target_kind,
        name,
        body,
        content_type,
        len(body.encode()),
    )
    with in_transaction(conn) as tx:
        row = tx.execute(query, params).fetchone()
    assert row is not None
    return str(row["id"])


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def get_result(result_or_target_id: str) -> CachedResult | Artifact:
    """The cached result (by its id, or by the task/workflow id) with its delivery status,
    or an artifact by its id. NotFound if there is none."""
    key = str(result_or_target_id or "").strip()
    if not key:
        raise InvalidInput("give a result, task or workflow id")
    with connection() as conn:
        row = None
        if _is_uuid(key):
            row = conn.execute("SELECT * FROM task_results WHERE id = %s", (key,)).fetchone()
        if row is None:
            row = conn.execute(
                "SELECT * FROM task_results WHERE target_id = %s AND name = 'result'", (key,)
            ).fetchone()
    if row is None:
        raise NotFound(f"no result for {key} (yet)")
    common = {
        "id": str(row["id"]),
        "target_id": row["target_id"],
        "target_kind": row["target_kind"],
        "name": row["name"],
        "status": row["status"],
        "created_at": row["created_at"].isoformat(),
    }
    if row["result_type"] == "artifact":
        return Artifact(
            **common,
            content_type=row["content_type"],
            size_bytes=row["size_bytes"],
            body=row["body"],
        )
    return CachedResult(
        **common, result=row["content"], deliveries=outbox.delivery_status(row["target_id"])
    )
