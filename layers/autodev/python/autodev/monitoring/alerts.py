"""Alerts: raised from what autodev sees, repeated at most once per cooldown, resolved when
they clear; recorded in ``monitoring_alerts``, posted to ``ALERT_CHANNEL`` and published as the
spec's ``alert`` event.

Two sources, one path (``raise_alert`` / ``resolve_alert``):

- the evaluator (``evaluate``; the alerts function every minute in AWS, a loop on the local
  stack) turns conditions into alerts: the task error rate over ``ALERT_ERROR_RATE_WINDOW``
  above ``ALERT_ERROR_RATE_THRESHOLD`` (once at least ``ALERT_ERROR_RATE_MIN_TASKS`` finished),
  each failing health check, tasks that died, tasks stopped by a budget, and a queue whose
  oldest task has waited longer than ``ALERT_QUEUE_AGE``. What it no longer sees, it resolves.
- CloudWatch alarms reach the alerts function through SNS (``cloudwatch_notification``):
  ``ALARM`` raises, ``OK`` resolves.

An alert is one condition, named by its fingerprint; at most one is open per fingerprint. It is
posted when it opens, again while it stays open no more often than ``ALERT_COOLDOWN``, and its
resolution once. Everything runs under one advisory lock, so two evaluators (or an evaluator
and an alarm) never post the same thing twice. A post that fails is tried again on the next
pass. When the database itself is down nothing can be recorded: the failing checks are posted
with the cooldown kept in this process instead.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autodev.config import Settings, get_settings
from autodev.db import DatabaseUnavailable, connection
from autodev.durations import format_duration
from autodev.errors import InvalidInput
from autodev.observability import best_effort, child_logger

log = child_logger(__name__)

Severity = Literal["info", "warning", "critical"]
Source = Literal["evaluator", "cloudwatch"]
Clock = Callable[[], datetime]

# An arbitrary constant naming "autodev alerts" among advisory locks.
_LOCK_KEY = 0x616C657274735F31
_EVENT_NAMESPACE = uuid.UUID("8a0f5d3e-57b1-4c55-9a57-0c3d7e1b2a44")
_LISTED = 3  # tasks named in one alert message

# What to look at, by check, when a health check fails.
_HEALTH_HINTS = {
    "database": "the database: RDS and RDS Proxy in AWS (the console, their metrics), "
    "`autodev local status` on the local stack; `GET /health` for the current state",
    "model_api": "the model provider: its status page, the API key (`ANTHROPIC_API_KEY` or "
    "its secret) or Bedrock access; `GET /health` for the current state",
    "step_functions": "Step Functions: are autodev's state machines deployed in this region?",
    "orchestrator": "`/orchestrator` (workers, leases) and the rescuer's and workers' logs",
    "slack": "the Slack app: is the bot token valid and the app installed?",
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Condition:
    """Something worth an alert, as seen now."""

    fingerprint: str
    alert_type: str
    severity: Severity
    message: str
    look_at: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    """What one pass did: alert ids opened, reminded, resolved; posts that failed."""

    opened: list[int] = field(default_factory=list)
    repeated: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    unposted: list[int] = field(default_factory=list)
    database_down: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "opened": self.opened,
            "repeated": self.repeated,
            "resolved": self.resolved,
            "unposted": self.unposted,
            "database_down": self.database_down,
        }


Notifier = Callable[[str, list[Any]], None]


def post_to_alert_channel(text: str, blocks: list[Any]) -> None:
    """Post to ``ALERT_CHANNEL`` (raises when Slack refuses or cannot be reached)."""
    from autodev.slack.client import web_client
    from autodev.slack.views import as_dicts

    web_client().chat_postMessage(
        channel=get_settings().alert_channel, text=text, blocks=as_dicts(blocks)
    )


# --- what the evaluator sees ---


def _window(settings: Settings) -> str:
    return format_duration(settings.alert_error_rate_window_seconds)


def _tasks_named(tasks: list[Any]) -> str:
    named = [
        f"`{task.id[:8]}` {task.step_name or task.task_type}"
        + (f" ({' '.join(str(task.last_error).split())[:120]})" if task.last_error else "")
        for task in tasks[:_LISTED]
    ]
    more = f" and {len(tasks) - _LISTED} more" if len(tasks) > _LISTED else ""
    return "; ".join(named) + more


def conditions(now: datetime, settings: Settings | None = None) -> list[Condition]:
    """Every condition worth an alert at ``now``. Raises DatabaseUnavailable when the
    database cannot be asked (the health conditions are then all that is known)."""
    from autodev.monitoring.health import run_health_checks
    from autodev.orchestrator import queue

    settings = settings or get_settings()
    found: list[Condition] = []
    database_ok = True
    for check in run_health_checks():
        if check.healthy:
            continue
        database_ok = database_ok and check.name != "database"
        found.append(
            Condition(
                f"health:{check.name}",
                "health_check",
                "critical",
                f"Health check *{check.name}* is failing: {check.detail}",
                _HEALTH_HINTS.get(check.name, "`GET /health` and the component's logs"),
                {"check": check.name, "detail": check.detail},
            )
        )
    if not database_ok:
        raise _DatabaseDown(found)
    since = now - timedelta(seconds=settings.alert_error_rate_window_seconds)
    with connection() as conn:
        counts = queue.finished_counts(since, conn=conn)
        dead = queue.dead_since(since, conn=conn)
        budget = queue.budget_stops_since(since, conn=conn)
        depth = queue.queue_depth(conn=conn)
    finished = counts.get("succeeded", 0) + counts.get("failed", 0) + counts.get("dead", 0)
    errors = counts.get("failed", 0) + counts.get("dead", 0)
    threshold = settings.alert_error_rate_threshold
    if finished >= settings.alert_error_rate_min_tasks and errors / finished > threshold:
        rate = errors / finished
        found.append(
            Condition(
                "error_rate",
                "error_rate",
                "critical" if rate >= min(1.0, 2 * threshold) else "warning",
                f"Task error rate is *{rate:.0%}* over the last {_window(settings)}"
                f" ({errors} of {finished} tasks failed), above the {threshold:.0%} threshold",
                "`/monitor` or `autodev monitor` for the figures, `/orchestrator` for the latest"
                " failures and their errors",
                {"error_rate": round(rate, 4), "errors": errors, "finished": finished},
            )
        )
    if dead:
        found.append(
            Condition(
                "tasks_dead",
                "task_dead",
                "warning",
                f"{len(dead)} task(s) died after every attempt in the last {_window(settings)}: "
                + _tasks_named(dead),
                "`autodev workflow status ID` of their workflows and the workers' logs"
                " (search for the task ids)",
                {"task_ids": [task.id for task in dead]},
            )
        )
    if budget:
        found.append(
            Condition(
                "budget",
                "budget_exceeded",
                "warning",
                f"{len(budget)} task(s) stopped at their budget in the last {_window(settings)}: "
                + _tasks_named(budget),
                "the workflows' costs (`autodev workflow status ID`) and the budgets"
                " (`TASK_BUDGET_USD`, `WORKFLOW_BUDGET_USD`, a workflow's own)",
                {"task_ids": [task.id for task in budget]},
            )
        )
    oldest = depth.oldest_queued_seconds
    limit = settings.alert_queue_age_seconds
    if oldest is not None and oldest > limit:
        found.append(
            Condition(
                "queue_age",
                "queue_age",
                "warning",
                f"The oldest queued task has waited {format_duration(oldest)}"
                f" (limit {format_duration(limit)}); {depth.total_queued} queued,"
                f" {depth.running} running",
                "`/orchestrator`: are workers starting? The scaler's logs, ECS RunTask failures"
                " and `ORCHESTRATOR_MAX_INSTANCES`",
                {"oldest_queued_seconds": round(oldest, 1), "queued": depth.total_queued},
            )
        )
    return found


class _DatabaseDown(Exception):
    """The database is down: only these (health) conditions are known."""

    def __init__(self, found: list[Condition]) -> None:
        super().__init__("the database is down")
        self.found = found


# --- recording and posting ---


def _lock(conn: Any) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))


def _publish(row: Mapping[str, Any], state: str, message: str) -> None:
    from autodev import events

    if not events.configured():
        return
    sequence = f"{row['id']}:{state}:{row['notified_count']}"
    with best_effort("alert_event", log, alert_id=row["id"]):
        events.publish(
            "alert",
            events.Alert(
                event_id=str(uuid.uuid5(_EVENT_NAMESPACE, sequence)),
                alert_type=str(row["alert_type"]),
                severity="info" if state == "resolved" else row["severity"],
                message=message,
                details={**dict(row["details"]), "alert_id": row["id"], "state": state},
                fingerprint=str(row["fingerprint"]),
            ),
        )


def _post(notify: Notifier, text: str, blocks: list[Any], alert_id: int) -> bool:
    with best_effort("alert_post", log, alert_id=alert_id):
        notify(text, blocks)
        return True
    return False


def _announce(conn: Any, row: Mapping[str, Any], now: datetime, notify: Notifier) -> bool:
    """Post the open alert ``row`` (first time or a reminder); record it when it went out."""
    from autodev.slack import alerts as slack_alerts

    details = dict(row["details"])
    text, blocks = slack_alerts.alert(
        alert_id=int(row["id"]),
        severity=str(row["severity"]),
        alert_type=str(row["alert_type"]),
        message=str(row["message"]),
        look_at=str(details.get("look_at") or "`/monitor`"),
        opened_at=row["created_at"],
        repeat=int(row["notified_count"]),
    )
    if not _post(notify, text, blocks, int(row["id"])):
        return False
    _publish(row, "firing", str(row["message"]))
    conn.execute(
        "UPDATE monitoring_alerts SET notified_at = %s, notified_count = notified_count + 1"
        " WHERE id = %s",
        (now, row["id"]),
    )
    return True


def _announce_resolution(conn: Any, row: Mapping[str, Any], notify: Notifier) -> bool:
    from autodev.slack import alerts as slack_alerts

    text, blocks = slack_alerts.resolved(
        alert_id=int(row["id"]),
        alert_type=str(row["alert_type"]),
        message=str(row["message"]),
        opened_at=row["created_at"],
        resolved_at=row["resolved_at"],
    )
    if not _post(notify, text, blocks, int(row["id"])):
        return False
    _publish(row, "resolved", f"Resolved: {row['message']}")
    conn.execute(
        "UPDATE monitoring_alerts SET resolution_notified_at = %s WHERE id = %s",
        (row["resolved_at"], row["id"]),
    )
    return True


def _upsert(
    conn: Any, condition: Condition, now: datetime, source: Source
) -> tuple[dict[str, Any], bool]:
    """The open alert for ``condition`` (opened now when there was none), and whether it is new."""
    details = Jsonb({**condition.details, "look_at": condition.look_at})
    row = conn.execute(
        """INSERT INTO monitoring_alerts (alert_type, severity, message, details, fingerprint,
               source, created_at, last_seen_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (fingerprint) WHERE status = 'open' DO NOTHING
           RETURNING *""",
        (
            condition.alert_type,
            condition.severity,
            condition.message,
            details,
            condition.fingerprint,
            source,
            now,
            now,
        ),
    ).fetchone()
    if row is not None:
        return dict(row), True
    row = conn.execute(
        """UPDATE monitoring_alerts SET severity = %s, message = %s, details = %s,
               last_seen_at = %s
           WHERE fingerprint = %s AND status = 'open' RETURNING *""",
        (condition.severity, condition.message, details, now, condition.fingerprint),
    ).fetchone()
    assert row is not None  # under the lock, the open row found by the conflict is there
    return dict(row), False


def _due(row: Mapping[str, Any], now: datetime, cooldown_seconds: float) -> bool:
    notified = row["notified_at"]
    return notified is None or now - notified >= timedelta(seconds=cooldown_seconds)


def _raise(
    conn: Any,
    condition: Condition,
    now: datetime,
    source: Source,
    settings: Settings,
    notify: Notifier,
    report: Report,
) -> int:
    row, new = _upsert(conn, condition, now, source)
    alert_id = int(row["id"])
    if new:
        report.opened.append(alert_id)
    if _due(row, now, settings.alert_cooldown_seconds):
        if _announce(conn, row, now, notify):
            if not new and row["notified_at"] is not None:
                report.repeated.append(alert_id)
        else:
            report.unposted.append(alert_id)
    return alert_id


def _close(
    conn: Any, fingerprint: str, now: datetime, sources: tuple[Source, ...]
) -> dict[str, Any] | None:
    row = conn.execute(
        """UPDATE monitoring_alerts SET status = 'resolved', resolved_at = %s
           WHERE fingerprint = %s AND status = 'open' AND source = ANY(%s) RETURNING *""",
        (now, fingerprint, list(sources)),
    ).fetchone()
    return dict(row) if row is not None else None


def _post_pending_resolutions(conn: Any, notify: Notifier, report: Report) -> None:
    rows = conn.execute(
        """SELECT * FROM monitoring_alerts
           WHERE status = 'resolved' AND resolution_notified_at IS NULL
           ORDER BY resolved_at LIMIT 50"""
    ).fetchall()
    for row in rows:
        if not _announce_resolution(conn, row, notify):
            report.unposted.append(int(row["id"]))


# --- the entry points ---


def evaluate(
    *,
    clock: Clock | None = None,
    settings: Settings | None = None,
    notify: Notifier | None = None,
) -> Report:
    """One evaluator pass: raise, remind and resolve; returns what it did."""
    settings = settings or get_settings()
    notify = notify or post_to_alert_channel
    now = (clock or _utcnow)()
    report = Report()
    try:
        found = conditions(now, settings)
    except (_DatabaseDown, DatabaseUnavailable) as down:
        health = down.found if isinstance(down, _DatabaseDown) else []
        _without_database(health, now, settings, notify, report)
        return report
    seen = {condition.fingerprint for condition in found}
    try:
        with connection() as conn:
            _lock(conn)
            for condition in found:
                _raise(conn, condition, now, "evaluator", settings, notify, report)
            open_rows = conn.execute(
                "SELECT fingerprint FROM monitoring_alerts"
                " WHERE status = 'open' AND source = 'evaluator'"
            ).fetchall()
            for row in open_rows:
                if row["fingerprint"] not in seen:
                    closed = _close(conn, str(row["fingerprint"]), now, ("evaluator",))
                    if closed is not None:
                        report.resolved.append(int(closed["id"]))
            _post_pending_resolutions(conn, notify, report)
    except DatabaseUnavailable:
        _without_database(found, now, settings, notify, report)
    _forget_unrecorded(seen)
    return report


def raise_alert(
    condition: Condition,
    *,
    source: Source = "evaluator",
    clock: Clock | None = None,
    settings: Settings | None = None,
    notify: Notifier | None = None,
) -> Report:
    """Record ``condition`` as an open alert and post it (unless posted within the cooldown)."""
    settings = settings or get_settings()
    now = (clock or _utcnow)()
    report = Report()
    with connection() as conn:
        _lock(conn)
        _raise(conn, condition, now, source, settings, notify or post_to_alert_channel, report)
    return report


def resolve_alert(
    fingerprint: str,
    *,
    source: Source = "evaluator",
    clock: Clock | None = None,
    notify: Notifier | None = None,
) -> Report:
    """Resolve the open alert ``fingerprint`` (if any) and post its resolution."""
    now = (clock or _utcnow)()
    report = Report()
    with connection() as conn:
        _lock(conn)
        closed = _close(conn, fingerprint, now, (source,))
        if closed is not None:
            report.resolved.append(int(closed["id"]))
        _post_pending_resolutions(conn, notify or post_to_alert_channel, report)
    return report


# --- when the database is down: post with a cooldown kept in this process ---

_unrecorded: dict[str, datetime] = {}
_unrecorded_lock = threading.Lock()


def _without_database(
    found: list[Condition], now: datetime, settings: Settings, notify: Notifier, report: Report
) -> None:
    from autodev.slack import alerts as slack_alerts

    report.database_down = True
    for condition in found:
        with _unrecorded_lock:
            last = _unrecorded.get(condition.fingerprint)
            if last is not None and now - last < timedelta(seconds=settings.alert_cooldown_seconds):
                continue
            _unrecorded[condition.fingerprint] = now
        text, blocks = slack_alerts.alert(
            alert_id=0,
            severity=condition.severity,
            alert_type=condition.alert_type,
            message=condition.message + " (not recorded: the database is down)",
            look_at=condition.look_at,
            opened_at=now,
            repeat=0,
        )
        _post(notify, text, blocks, 0)


def _forget_unrecorded(seen: set[str]) -> None:
    with _unrecorded_lock:
        for fingerprint in list(_unrecorded):
            if fingerprint not in seen:
                del _unrecorded[fingerprint]


# --- CloudWatch alarms, through SNS ---


class CloudWatchAlarm(BaseModel):
    """The parts of a CloudWatch alarm's SNS notification that an alert needs."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    name: str = Field(alias="AlarmName", min_length=1)
    description: str | None = Field(default=None, alias="AlarmDescription")
    state: str = Field(alias="NewStateValue")
    reason: str = Field(default="", alias="NewStateReason")
    region: str | None = Field(default=None, alias="Region")


def parse_alarm(message: str) -> CloudWatchAlarm:
    """The alarm in an SNS message body; InvalidInput when it is not one."""
    try:
        return CloudWatchAlarm.model_validate_json(message)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "message"
        raise InvalidInput(
            f"not a CloudWatch alarm notification: {where}: {first['msg']}"
        ) from None


def cloudwatch_notification(
    alarm: CloudWatchAlarm, *, clock: Clock | None = None, notify: Notifier | None = None
) -> Report:
    """ALARM raises the alarm's alert, OK resolves it; INSUFFICIENT_DATA changes nothing."""
    fingerprint = f"cloudwatch:{alarm.name}"
    if alarm.state == "OK":
        return resolve_alert(fingerprint, source="cloudwatch", clock=clock, notify=notify)
    if alarm.state != "ALARM":
        log.info("alarm %s is %s: nothing to post", alarm.name, alarm.state)
        return Report()
    where = f" ({alarm.region})" if alarm.region else ""
    condition = Condition(
        fingerprint,
        "cloudwatch_alarm",
        "critical",
        f"CloudWatch alarm *{alarm.name}*{where}: {alarm.description or ''} {alarm.reason}".strip(),
        f"the alarm {alarm.name} in CloudWatch, its metric and the logs of what it watches",
        {"alarm": alarm.name, "reason": alarm.reason},
    )
    return raise_alert(condition, source="cloudwatch", clock=clock, notify=notify)
