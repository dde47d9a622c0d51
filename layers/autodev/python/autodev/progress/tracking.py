"""Progress of tasks and workflows, kept in Postgres so any process can read it.

A task is tracked in stages (``[{name, weight}]``); its percent is the weighted share of
finished stages plus the current stage's part. A task that belongs to a workflow is also a
stage of that workflow (its step): every update of the task rolls up into the workflow's
row, in the same transaction, so the workflow's percent, ETA and summed metrics are always
consistent with its steps, including steps that run in parallel.

Each change may emit ``progress:updated`` (throttled: at most one per task every
``EVENT_INTERVAL_SECONDS``, plus one whenever the stage changes) and ``progress:completed``,
and renders the live Slack status message of the workflow (or of a lone task with a Slack
target), which ``slack_updates`` sends at most once a second.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from autodev import events
from autodev.db import connection
from autodev.durations import format_duration
from autodev.errors import InvalidInput, NotFound
from autodev.events import Metrics
from autodev.observability import best_effort_failed, child_logger
from autodev.progress import estimate, render, slack_updates
from autodev.progress.clock import SYSTEM_CLOCK, Clock
from autodev.progress.estimate import RateState, Stage

logger = child_logger(__name__)

EVENT_INTERVAL_SECONDS = 5.0
FINAL_STATUSES = ("completed", "failed", "cancelled")
# A task's status as the status of its stage in the workflow.
_STAGE_STATUS = {"completed": "done", "failed": "failed", "cancelled": "failed"}
# Map iterations of a step are named "<step> #<n>" (autodev.workflows.steps.enqueue_step).
_ITERATION = re.compile(r"(.+) #\d+")


def _is_iteration_of(step_name: str | None, stage_name: str) -> bool:
    match = _ITERATION.fullmatch(step_name or "")
    return match is not None and match.group(1) == stage_name


Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class Progress:
    """One tracked task or workflow as it stands."""

    id: str
    kind: str
    task_type: str
    stages: list[Stage]
    current_stage: int
    percent: float
    status: str
    status_message: str
    metrics: Metrics
    eta_seconds: float | None
    started_at: float
    updated_at: float
    completed_at: float | None = None
    workflow_id: str | None = None
    step_name: str | None = None
    slack_channel: str | None = None
    slack_thread_ts: str | None = None
    _rate: RateState | None = field(default=None, repr=False, compare=False)

    @property
    def stage(self) -> str | None:
        return self.stages[self.current_stage].name if self.stages else None

    @property
    def duration_seconds(self) -> float:
        end = self.completed_at if self.completed_at is not None else self.updated_at
        return max(0.0, end - self.started_at)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "task_type": self.task_type,
            "workflow_id": self.workflow_id,
            "step_name": self.step_name,
            "stages": [stage.to_json() for stage in self.stages],
            "current_stage": self.current_stage,
            "stage": self.stage,
            "percent": self.percent,
            "status": self.status,
            "status_message": self.status_message,
            "metrics": self.metrics.model_dump(),
            "eta_seconds": self.eta_seconds,
            "eta": format_duration(self.eta_seconds) if self.status == "running" else None,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "completed_at": self.completed_at,
        }


_COLUMNS = (
    "id, kind, task_type, workflow_id, step_name, stages, current_stage, percent, status,"
    " status_message, metrics, rate, rate_samples, eta_seconds, started_at, sampled_at,"
    " sampled_percent, updated_at, completed_at, event_sent_at, event_percent, slack_channel,"
    " slack_thread_ts"
)


def _from_row(row: dict[str, Any]) -> Progress:
    return Progress(
        id=row["id"],
        kind=row["kind"],
        task_type=row["task_type"],
        stages=[Stage.from_json(item) for item in row["stages"]],
        current_stage=row["current_stage"],
        percent=row["percent"],
        status=row["status"],
        status_message=row["status_message"],
        metrics=estimate.as_metrics(row["metrics"]),
        eta_seconds=row["eta_seconds"],
        started_at=row["started_at"],
        updated_at=row["updated_at"],
        completed_at=row["completed_at"],
        workflow_id=row["workflow_id"],
        step_name=row["step_name"],
        slack_channel=row["slack_channel"],
        slack_thread_ts=row["slack_thread_ts"],
        _rate=RateState(
            row["rate"], row["rate_samples"], row["sampled_at"], row["sampled_percent"]
        ),
    )


@dataclass
class _Effects:
    """What to do once the transaction has committed."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    slack_keys: list[str] = field(default_factory=list)


def _load(conn: Conn, progress_id: str, *, lock: bool = True) -> dict[str, Any] | None:
    suffix = " FOR UPDATE" if lock else ""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM progress_tracking WHERE id = %s{suffix}",  # noqa: S608
        (progress_id,),
    ).fetchone()
    return dict(row) if row else None


def _load_tracked(conn: Conn, progress_id: str) -> dict[str, Any]:
    """The row, locked for a change; NotFound when nothing is tracked under that id."""
    row = _load(conn, progress_id)
    if row is None:
        raise NotFound(f"no progress is tracked for {progress_id}")
    return row


def _metrics_json(row: dict[str, Any]) -> Jsonb:
    """The row's metrics as stored: a JSON object of the ``Metrics`` fields."""
    return Jsonb(estimate.as_metrics(row["metrics"]).model_dump())


def _save(conn: Conn, row: dict[str, Any]) -> None:
    conn.execute(
        "UPDATE progress_tracking SET stages = %(stages)s, current_stage = %(current_stage)s,"
        " percent = %(percent)s, status = %(status)s, status_message = %(status_message)s,"
        " metrics = %(metrics)s, rate = %(rate)s, rate_samples = %(rate_samples)s,"
        " eta_seconds = %(eta_seconds)s, sampled_at = %(sampled_at)s,"
        " sampled_percent = %(sampled_percent)s, updated_at = %(updated_at)s,"
        " completed_at = %(completed_at)s, event_sent_at = %(event_sent_at)s,"
        " event_percent = %(event_percent)s WHERE id = %(id)s",
        {**row, "stages": Jsonb(row["stages"]), "metrics": _metrics_json(row)},
    )


def _insert(conn: Conn, row: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO progress_tracking (id, kind, task_type, workflow_id, step_name, stages,"
        " current_stage, percent, status, status_message, metrics, started_at, sampled_at,"
        " sampled_percent, updated_at, slack_channel, slack_thread_ts)"
        " VALUES (%(id)s, %(kind)s, %(task_type)s, %(workflow_id)s, %(step_name)s, %(stages)s,"
        " 0, 0, 'running', %(status_message)s, %(metrics)s, %(now)s, %(now)s, 0, %(now)s,"
        " %(slack_channel)s, %(slack_thread_ts)s)"
        " ON CONFLICT (id) DO UPDATE SET task_type = EXCLUDED.task_type,"
        " stages = EXCLUDED.stages, current_stage = 0, percent = 0, status = 'running',"
        " status_message = EXCLUDED.status_message, metrics = EXCLUDED.metrics,"
        " rate = NULL, rate_samples = 0, eta_seconds = NULL, started_at = EXCLUDED.started_at,"
        " sampled_at = EXCLUDED.sampled_at, sampled_percent = 0, updated_at = EXCLUDED.updated_at,"
        " completed_at = NULL, event_sent_at = NULL, event_percent = NULL,"
        " workflow_id = EXCLUDED.workflow_id, step_name = EXCLUDED.step_name,"
        " slack_channel = coalesce(EXCLUDED.slack_channel, progress_tracking.slack_channel),"
        " slack_thread_ts = coalesce(EXCLUDED.slack_thread_ts, progress_tracking.slack_thread_ts)",
        {**row, "stages": Jsonb(row["stages"]), "metrics": _metrics_json(row)},
    )


def _recompute(row: dict[str, Any], now: float) -> None:
    """Percent, smoothed rate and ETA of a row whose stages have changed."""
    stages = [Stage.from_json(item) for item in row["stages"]]
    row["percent"] = estimate.overall_percent(stages)
    state = RateState(row["rate"], row["rate_samples"], row["sampled_at"], row["sampled_percent"])
    state = estimate.observe(state, now, row["percent"])
    row["rate"], row["rate_samples"] = state.rate, state.samples
    row["sampled_at"], row["sampled_percent"] = state.sampled_at, state.sampled_percent
    row["eta_seconds"] = estimate.eta_seconds(state, row["percent"])
    row["updated_at"] = now


def _updated_event(row: dict[str, Any], now: float, *, force: bool) -> dict[str, Any] | None:
    """The progress:updated detail if one is due (throttled), marking it sent on the row."""
    last = row["event_sent_at"]
    if not force and last is not None and now - last < EVENT_INTERVAL_SECONDS:
        return None
    row["event_sent_at"], row["event_percent"] = now, row["percent"]
    progress = _from_row(row)
    return {
        "task_id": progress.id,
        "kind": progress.kind,
        "task_type": progress.task_type,
        "workflow_id": progress.workflow_id,
        "percent": progress.percent,
        "stage": progress.stage,
        "stage_index": progress.current_stage,
        "stage_count": len(progress.stages),
        "status_message": progress.status_message,
        "eta_seconds": progress.eta_seconds,
        "metrics": progress.metrics,
    }


def _completed_event(row: dict[str, Any]) -> dict[str, Any]:
    progress = _from_row(row)
    return {
        "task_id": progress.id,
        "kind": progress.kind,
        "task_type": progress.task_type,
        "workflow_id": progress.workflow_id,
        "status": progress.status,
        "duration_seconds": progress.duration_seconds,
        "metrics": progress.metrics,
    }


def _render(
    conn: Conn, row: dict[str, Any], effects: _Effects, *, message_ts: str | None = None
) -> None:
    """Queue the row's state for its Slack status message, if it has one."""
    if not row.get("slack_channel"):
        return
    state = _from_row(row).to_json()
    slack_updates.put_state(
        conn,
        row["id"],
        row["slack_channel"],
        row["slack_thread_ts"],
        render.status_message(state),
        ts=message_ts,
    )
    effects.slack_keys.append(row["id"])


def _roll_up(conn: Conn, task: dict[str, Any], now: float, effects: _Effects) -> None:
    """Fold a task's state into its workflow's row (created on first sight)."""
    workflow_id, step = task["workflow_id"], task["step_name"] or task["id"]
    workflow = _load(conn, workflow_id)
    if workflow is None:
        _insert(
            conn,
            {
                "id": workflow_id,
                "kind": "workflow",
                "task_type": "workflow",
                "workflow_id": None,
                "step_name": None,
                "stages": [Stage(step, 1.0).to_json()],
                "status_message": "",
                "metrics": Metrics(),
                "now": now,
                "slack_channel": None,
                "slack_thread_ts": None,
            },
        )
        workflow = _load(conn, workflow_id)
        assert workflow is not None
    if workflow["status"] in FINAL_STATUSES:
        return
    stages = [Stage.from_json(item) for item in workflow["stages"]]
    names = [stage.name for stage in stages]
    tasks = [
        dict(row)
        for row in conn.execute(
            "SELECT step_name, percent, status, metrics FROM progress_tracking"
            " WHERE workflow_id = %s",
            (workflow_id,),
        ).fetchall()
    ]
    iteration = _ITERATION.fullmatch(step)
    if step not in names and iteration is not None and iteration.group(1) in names:
        # A Map iteration ("Implement fix #2") counts toward its planned step's stage.
        stage_name = iteration.group(1)
        index = names.index(stage_name)
        runs = [t for t in tasks if _is_iteration_of(t["step_name"], stage_name)]
        percent = sum(t["percent"] for t in runs) / len(runs) if runs else task["percent"]
        statuses = {_STAGE_STATUS.get(t["status"], "running") for t in runs}
        status = (
            "running" if "running" in statuses else "failed" if "failed" in statuses else "done"
        )
    else:
        if step not in names:
            stages.append(Stage(step, 1.0))
            names.append(step)
        index, stage_name = names.index(step), step
        percent, status = task["percent"], _STAGE_STATUS.get(task["status"], "running")
    stages[index] = Stage(stage_name, stages[index].weight, percent, status)
    workflow["stages"] = [stage.to_json() for stage in stages]
    workflow["current_stage"] = index
    if task["status_message"]:
        workflow["status_message"] = f"{step}: {task['status_message']}"
    workflow["metrics"] = estimate.sum_metrics(row["metrics"] for row in tasks)
    _recompute(workflow, now)
    stage_changed = task.get("_stage_changed", False)
    detail = _updated_event(workflow, now, force=stage_changed)
    if detail is not None:
        effects.events.append(("progress:updated", detail))
    _save(conn, workflow)
    _render(conn, workflow, effects)


def _after_commit(effects: _Effects, clock: Clock, *, background_slack: bool = False) -> None:
    for detail_type, detail in effects.events:
        _emit(detail_type, detail)
    if not effects.slack_keys:
        return
    if background_slack and clock is SYSTEM_CLOCK:
        # The reporter's thread sends (and the delivery sweep backs it up): the caller, a
        # worker between an agent's events or between tasks, never waits on Slack.
        slack_updates.ensure_background_flusher()
        return
    try:
        slack_updates.flush_due(clock=clock, keys=effects.slack_keys)
    except Exception:  # Slack trouble must not fail the work being reported on
        best_effort_failed("slack_status_message", logger)
    if clock is SYSTEM_CLOCK and slack_updates.pending_keys(effects.slack_keys):
        slack_updates.ensure_background_flusher()


def _emit(detail_type: str, detail: dict[str, Any]) -> None:
    """Publish a progress event; best effort, since progress is advisory."""
    if not events.configured():
        return
    try:
        events.publish(detail_type, detail)
    except Exception:
        best_effort_failed("progress_event", logger, detail_type=detail_type)


def start_tracking(
    task_id: str,
    task_type: str,
    stages: list[dict[str, Any]] | None = None,
    *,
    kind: str = "task",
    workflow_id: str | None = None,
    step_name: str | None = None,
    slack_channel: str | None = None,
    slack_thread_ts: str | None = None,
    slack_message_ts: str | None = None,
    status_message: str = "",
    clock: Clock = SYSTEM_CLOCK,
    background_slack: bool = False,
    slack_later: bool = False,
) -> Progress:
    """Begin tracking a task (or, with ``kind="workflow"``, a workflow whose stages are its
    steps). A task with ``workflow_id`` becomes the stage ``step_name`` of that workflow.
    With ``slack_channel`` (and optionally ``slack_thread_ts``) the row gets a live Slack
    status message: posted in the thread, or, with ``slack_message_ts``, that existing
    message edited in place (a workflow's status card). Starting again resets the row (a
    retried task starts over). With ``background_slack`` (the worker's choice) the Slack
    edit is left to this process's background sender and the delivery sweep. With
    ``slack_later`` it waits for the caller's ``send_status``, once the caller has done what
    must not wait on Slack (a workflow's start: its execution); the delivery sweep sends it if
    the caller never does."""
    if kind not in ("task", "workflow"):
        raise InvalidInput("kind must be task or workflow")
    if not str(task_id).strip() or not str(task_type).strip():
        raise InvalidInput("a tracked task needs an id and a type")
    parsed = estimate.parse_stages(stages)
    now = clock.now()
    effects = _Effects()
    with connection() as conn:
        row = {
            "id": str(task_id),
            "kind": kind,
            "task_type": task_type,
            "workflow_id": workflow_id if kind == "task" else None,
            "step_name": step_name,
            "stages": [
                Stage(
                    s.name, s.weight, 0.0, "running" if i == 0 and kind == "task" else "pending"
                ).to_json()
                for i, s in enumerate(parsed)
            ],
            "status_message": status_message,
            "metrics": Metrics(),
            "now": now,
            "slack_channel": slack_channel,
            "slack_thread_ts": slack_thread_ts,
        }
        _insert(conn, row)
        saved = _load(conn, str(task_id))
        assert saved is not None
        saved["_stage_changed"] = True
        if saved["workflow_id"]:
            _roll_up(conn, saved, now, effects)
        _render(conn, saved, effects, message_ts=slack_message_ts)
        result = _from_row(saved)
    if slack_later:
        effects.slack_keys.clear()  # queued above: ``send_status`` or the sweep sends it
    _after_commit(effects, clock, background_slack=background_slack)
    return result


def send_status(progress_id: str, *, clock: Clock = SYSTEM_CLOCK) -> None:
    """Send a row's status message now, if it is due (after ``start_tracking(...,
    slack_later=True)``); Slack trouble is logged, and what is not sent is sent later."""
    _after_commit(_Effects(slack_keys=[str(progress_id)]), clock)


def forget(progress_id: str) -> None:
    """Drop a row and its Slack status message (a workflow that never started), leaving
    the message in Slack as it is."""
    with connection() as conn:
        conn.execute("DELETE FROM progress_tracking WHERE id = %s", (str(progress_id),))
        conn.execute("DELETE FROM slack_status_messages WHERE key = %s", (str(progress_id),))


def _stage_index(stages: list[Stage], stage: str | int) -> int:
    if isinstance(stage, bool):
        raise InvalidInput("stage must be a stage name or index")
    if isinstance(stage, int):
        if not 0 <= stage < len(stages):
            raise InvalidInput(f"stage index {stage} is out of range (0..{len(stages) - 1})")
        return stage
    for index, item in enumerate(stages):
        if item.name == stage:
            return index
    raise InvalidInput(f"no stage named {stage!r}; stages: {', '.join(s.name for s in stages)}")


def update_progress(
    task_id: str,
    stage_progress: float | None = None,
    status_message: str | None = None,
    metrics: Mapping[str, Any] | Metrics | None = None,
    *,
    stage: str | int | None = None,
    clock: Clock = SYSTEM_CLOCK,
    background_slack: bool = False,
) -> Progress:
    """Report progress of a tracked task.

    ``stage`` (a name or index) moves to that stage: the stages before it count as done,
    the ones after as not started. ``stage_progress`` (0..100) is how far the current stage
    (after any move) has got. ``status_message`` replaces the line shown. ``metrics`` are
    cumulative totals (messages, tokens, cost_usd, files_modified, tool_calls); each one
    given replaces the stored value. An update of a finished task changes nothing.
    ``background_slack``: as in ``start_tracking``.
    """
    if stage_progress is not None and (
        isinstance(stage_progress, bool)
        or not isinstance(stage_progress, int | float)
        or not 0 <= stage_progress <= 100
    ):
        raise InvalidInput("stage_progress must be a number from 0 to 100")
    now = clock.now()
    effects = _Effects()
    with connection() as conn:
        row = _load_tracked(conn, str(task_id))
        if row["status"] in FINAL_STATUSES:
            return _from_row(row)
        stages = [Stage.from_json(item) for item in row["stages"]]
        current = row["current_stage"]
        changed = False
        if stage is not None:
            target = _stage_index(stages, stage)
            if target != current:
                changed = True
                stages = [
                    Stage(s.name, s.weight, 100.0, "done")
                    if i < target
                    else Stage(s.name, s.weight, 0.0, "running" if i == target else "pending")
                    for i, s in enumerate(stages)
                ]
                current = target
        if stage_progress is not None:
            s = stages[current]
            stages[current] = Stage(s.name, s.weight, float(stage_progress), "running")
        row["metrics"] = estimate.merge_metrics(row["metrics"], metrics)
        row["stages"] = [s.to_json() for s in stages]
        row["current_stage"] = current
        if status_message is not None:
            row["status_message"] = str(status_message)[:500]
        _recompute(row, now)
        row["_stage_changed"] = changed
        detail = _updated_event(row, now, force=changed)
        if detail is not None:
            effects.events.append(("progress:updated", detail))
        _save(conn, row)
        if row["workflow_id"]:
            _roll_up(conn, row, now, effects)
        _render(conn, row, effects)
        result = _from_row(row)
    _after_commit(effects, clock, background_slack=background_slack)
    return result


def complete(
    task_id: str,
    *,
    status: str = "completed",
    status_message: str | None = None,
    metrics: Mapping[str, Any] | Metrics | None = None,
    clock: Clock = SYSTEM_CLOCK,
    wait_for_slack: bool = True,
    background_slack: bool = False,
) -> Progress:
    """Finish tracking: ``status`` completed, failed or cancelled. Emits progress:completed
    once; completing an already finished task changes nothing. With ``wait_for_slack`` the
    call returns after the final state is on the Slack status message (or gave up); with
    ``background_slack`` it never waits: the final state is pending in Postgres, where this
    process's background sender, or else the delivery sweep, sends it."""
    if status not in FINAL_STATUSES:
        raise InvalidInput("status must be completed, failed or cancelled")
    now = clock.now()
    effects = _Effects()
    with connection() as conn:
        row = _load_tracked(conn, str(task_id))
        if row["status"] in FINAL_STATUSES:
            return _from_row(row)
        stages = [Stage.from_json(item) for item in row["stages"]]
        if status == "completed":
            stages = [Stage(s.name, s.weight, 100.0, "done") for s in stages]
            row["current_stage"] = len(stages) - 1
        else:
            current = row["current_stage"]
            s = stages[current]
            stages[current] = Stage(s.name, s.weight, s.progress, "failed")
        row["stages"] = [s.to_json() for s in stages]
        row["metrics"] = estimate.merge_metrics(row["metrics"], metrics)
        if status_message is not None:
            row["status_message"] = str(status_message)[:500]
        _recompute(row, now)
        row["status"], row["completed_at"], row["eta_seconds"] = status, now, None
        row["_stage_changed"] = True
        _save(conn, row)
        effects.events.append(("progress:completed", _completed_event(row)))
        if row["workflow_id"]:
            _roll_up(conn, row, now, effects)
        _render(conn, row, effects)
        result = _from_row(row)
    _after_commit(effects, clock, background_slack=background_slack)
    if wait_for_slack and not background_slack and effects.slack_keys:
        for key in effects.slack_keys:
            try:
                slack_updates.flush_until_sent(key, clock=clock)
            except Exception:
                best_effort_failed("slack_status_message", logger, key=key)
    return result


def get_progress(progress_id: str) -> Progress | None:
    """The progress of a task or workflow, or None if it is not tracked."""
    with connection() as conn:
        row = _load(conn, str(progress_id), lock=False)
    return _from_row(row) if row else None


def workflow_steps(workflow_id: str) -> list[Progress]:
    """The tracked tasks of a workflow, oldest first."""
    with connection() as conn:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM progress_tracking WHERE workflow_id = %s"  # noqa: S608
            " ORDER BY started_at",
            (workflow_id,),
        ).fetchall()
    return [_from_row(dict(row)) for row in rows]
