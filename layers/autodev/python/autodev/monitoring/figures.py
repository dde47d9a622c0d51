"""The dashboard: what autodev did in a window of hours, read from Postgres in one connection.

Read-only and cheap: four aggregate queries in one connection, each served by an index (tasks
by ``finished_at`` or status, metrics by name and time, open alerts by the partial index).
The tasks' and workflows' figures come from their owners (``autodev.orchestrator.queue``,
``autodev.workflows``). A task's tokens and cost count once it has finished in the window, or
while it is queued or running (so a long task shows up before it ends).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from autodev.db import DatabaseUnavailable
from autodev.errors import InvalidInput
from autodev.monitoring.health import HealthCheckResult, run_health_checks

# The worker records one of these per attempt: value = seconds, dimensions.outcome.
TASK_FINISHED_METRIC = "orchestrator.task.finished"
MAX_WINDOW_HOURS = 24 * 90
ALERTS_SHOWN = 10

_DURATIONS = """
SELECT count(*) AS attempts,
       count(*) FILTER (WHERE dimensions->>'outcome' IS DISTINCT FROM 'succeeded') AS failed,
       avg(metric_value) AS mean,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY metric_value) AS p95,
       max(metric_value) AS longest
FROM monitoring_metrics
WHERE metric_name = %(metric)s AND recorded_at >= %(since)s
"""

_ALERTS = """
SELECT id, alert_type, severity, message, created_at, count(*) OVER () AS total
FROM monitoring_alerts WHERE status = 'open'
ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
         created_at DESC, id DESC
LIMIT %(limit)s
"""


@dataclass(frozen=True)
class TaskCounts:
    """Tasks that finished in the window by outcome, and those queued or running now."""

    succeeded: int = 0
    failed: int = 0
    dead: int = 0  # failed on every attempt it was allowed
    cancelled: int = 0
    running: int = 0
    queued: int = 0

    @property
    def errors(self) -> int:
        return self.failed + self.dead

    @property
    def finished(self) -> int:
        """Finished with an outcome of their own (cancelled tasks did not get to one)."""
        return self.succeeded + self.errors


SCRIPTED_NOTE = "scripted: the scripted model's figures, simulated; nothing was billed"


@dataclass(frozen=True)
class ModelUsage:
    model: str
    tasks: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    cost_usd: float
    # Run on the scripted provider: its tokens and dollars are simulated, not real usage.
    scripted: bool = False

    @property
    def label(self) -> str:
        return f"{self.model} (scripted)" if self.scripted else self.model

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_creation_tokens
        )


@dataclass(frozen=True)
class TaskDurations:
    """Task attempts the workers finished in the window (a retried task counts each time)."""

    attempts: int = 0
    failed_attempts: int = 0
    mean_seconds: float | None = None
    p95_seconds: float | None = None
    longest_seconds: float | None = None


@dataclass(frozen=True)
class AlertView:
    id: int
    alert_type: str
    severity: str
    message: str
    created_at: datetime


@dataclass(frozen=True)
class Dashboard:
    window_hours: float
    generated_at: datetime
    since: datetime
    tasks: TaskCounts
    error_rate: float | None  # failed and dead over finished; None when nothing finished
    error_rate_threshold: float
    usage: tuple[ModelUsage, ...]
    durations: TaskDurations
    workflows: dict[str, int]
    open_alerts: int
    alerts: tuple[AlertView, ...]  # ALERTS_SHOWN open ones, the most severe, then newest
    health: tuple[HealthCheckResult, ...] = field(default_factory=tuple)
    # Why the figures are missing (the database is down); None when they are there.
    unavailable: str | None = None

    @property
    def error_rate_alert(self) -> bool:
        """Whether the error rate is above ``ALERT_ERROR_RATE_THRESHOLD``."""
        return self.error_rate is not None and self.error_rate > self.error_rate_threshold

    @property
    def cost_usd(self) -> float:
        return sum(u.cost_usd for u in self.usage)

    @property
    def scripted_cost_usd(self) -> float:
        """The part of ``cost_usd`` the scripted model simulated (nothing was billed)."""
        return sum(u.cost_usd for u in self.usage if u.scripted)

    @property
    def total_tokens(self) -> int:
        return sum(u.total_tokens for u in self.usage)

    @property
    def healthy(self) -> bool:
        return all(check.healthy for check in self.health)

    def to_dict(self) -> dict[str, Any]:
        """Everything, with the derived figures, for ``--json``."""
        data = asdict(self)
        data.update(
            error_rate_alert=self.error_rate_alert,
            cost_usd=round(self.cost_usd, 6),
            scripted_cost_usd=round(self.scripted_cost_usd, 6),
            total_tokens=self.total_tokens,
            healthy=self.healthy,
        )
        return data


_USAGE_COLUMNS = (
    "n",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "cost_usd",
)


def _task_figures(rows: list[dict[str, Any]]) -> tuple[TaskCounts, tuple[ModelUsage, ...]]:
    counts: dict[str, int] = {}
    by_model: dict[tuple[str, bool], list[float]] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + int(row["n"])
        figures = [float(row[column] or 0) for column in _USAGE_COLUMNS]
        if row["model"] is None and not any(figures[1:]):
            continue  # tasks that never reached a model (echo tasks, still queued)
        key = (row["model"] or "unknown", row.get("model_provider") == "scripted")
        totals = by_model.setdefault(key, [0.0] * len(figures))
        for index, value in enumerate(figures):
            totals[index] += value
    tasks = TaskCounts(**{k: v for k, v in counts.items() if k in TaskCounts.__dataclass_fields__})
    usage = tuple(
        ModelUsage(
            model=model,
            tasks=int(n),
            input_tokens=int(input_tokens),
            output_tokens=int(output_tokens),
            cache_read_tokens=int(cache_read),
            cache_creation_tokens=int(cache_creation),
            cost_usd=round(cost, 6),
            scripted=scripted,
        )
        for (model, scripted), (
            n,
            input_tokens,
            output_tokens,
            cache_read,
            cache_creation,
            cost,
        ) in sorted(by_model.items(), key=lambda item: -item[1][-1])
    )
    return tasks, usage


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def dashboard(window_hours: float = 24) -> Dashboard:
    """The dashboard for the last ``window_hours``, with every health check.

    The health checks run first; when the database is down the dashboard still comes back,
    with its health and ``unavailable`` saying why the figures are missing.
    """
    if not 0 < window_hours <= MAX_WINDOW_HOURS:
        raise InvalidInput(f"the window must be more than 0 and at most {MAX_WINDOW_HOURS} hours")
    health = tuple(run_health_checks())
    database = next((check for check in health if check.name == "database"), None)
    if database is not None and not database.healthy:
        return _without_figures(window_hours, health, f"the database is {database.detail}")
    try:
        return _with_figures(window_hours, health)
    except DatabaseUnavailable as error:
        return _without_figures(window_hours, health, str(error))


def _without_figures(
    window_hours: float, health: tuple[HealthCheckResult, ...], why: str
) -> Dashboard:
    from autodev.config import get_settings

    now = datetime.now(UTC)
    return Dashboard(
        window_hours=window_hours,
        generated_at=now,
        since=now - timedelta(hours=window_hours),
        tasks=TaskCounts(),
        error_rate=None,
        error_rate_threshold=get_settings().alert_error_rate_threshold,
        usage=(),
        durations=TaskDurations(),
        workflows={},
        open_alerts=0,
        alerts=(),
        health=health,
        unavailable=why,
    )


def _with_figures(window_hours: float, health: tuple[HealthCheckResult, ...]) -> Dashboard:
    from autodev.config import get_settings
    from autodev.db import connection
    from autodev.orchestrator.queue import usage_since
    from autodev.workflows import status_counts

    with connection() as conn:
        clock = conn.execute(
            "SELECT now() AS now, now() - make_interval(secs => %s) AS since",
            (window_hours * 3600,),
        ).fetchone()
        assert clock is not None
        params = {
            "since": clock["since"],
            "metric": TASK_FINISHED_METRIC,
            "limit": ALERTS_SHOWN,
        }
        task_rows = usage_since(clock["since"], conn=conn)
        timing = conn.execute(_DURATIONS, params).fetchone()
        workflows = status_counts(clock["since"], conn=conn)
        alert_rows = conn.execute(_ALERTS, params).fetchall()
    tasks, usage = _task_figures(task_rows)
    error_rate = tasks.errors / tasks.finished if tasks.finished else None
    return Dashboard(
        window_hours=window_hours,
        generated_at=clock["now"],
        since=clock["since"],
        tasks=tasks,
        error_rate=error_rate,
        error_rate_threshold=get_settings().alert_error_rate_threshold,
        usage=usage,
        durations=TaskDurations(
            attempts=int(timing["attempts"]) if timing else 0,
            failed_attempts=int(timing["failed"]) if timing else 0,
            mean_seconds=_opt(timing["mean"]) if timing else None,
            p95_seconds=_opt(timing["p95"]) if timing else None,
            longest_seconds=_opt(timing["longest"]) if timing else None,
        ),
        workflows=workflows,
        open_alerts=int(alert_rows[0]["total"]) if alert_rows else 0,
        alerts=tuple(
            AlertView(int(r["id"]), r["alert_type"], r["severity"], r["message"], r["created_at"])
            for r in alert_rows
        ),
        health=health,
    )
