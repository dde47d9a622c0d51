"""EventBridge Scheduler's part of the local stack: a ticker that fires moto's schedules.

moto stores schedules but never fires them. The ticker does what Scheduler would: every
``interval`` seconds it reads the schedules of ``AUTODEV_SCHEDULE_GROUP`` from moto, works
out each one's latest firing since it last looked with the same expression code autodev uses
to check them (``autodev.schedules.expressions``: cron in the schedule's time zone, rate from
its creation, at once), fills the target input's context attributes
(``<aws.scheduler.scheduled-time>``, ...) and starts the target state machine, then deletes a
one-time schedule whose ``ActionAfterCompletion`` is ``DELETE``. A firing missed while the
ticker was not running is fired once, not once per missed occurrence.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from autodev.aws import client
from autodev.local.services import LocalService, RunningService
from autodev.observability import child_logger
from autodev.schedules.expressions import InvalidSchedule, ScheduleExpression, parse_expression

if TYPE_CHECKING:
    from autodev.local.stack import LocalStack

log = child_logger(__name__)

INTERVAL_SECONDS = 1.0
# Occurrences looked at per schedule and tick (a rate(1 minute) schedule after a long pause).
_MAX_STEPS = 10_000


@dataclass(frozen=True)
class Fired:
    schedule: str
    occurrence: datetime
    execution_arn: str


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _context(occurrence: datetime, schedule_arn: str) -> dict[str, str]:
    """Scheduler's context attributes for one firing."""
    return {
        "<aws.scheduler.scheduled-time>": occurrence.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": uuid.uuid4().hex,
        "<aws.scheduler.attempt-number>": "1",
        "<aws.scheduler.schedule-arn>": schedule_arn,
    }


def latest_occurrence(
    expression: ScheduleExpression, after: datetime, until: datetime, anchor: datetime
) -> datetime | None:
    """The last firing in (``after``, ``until``], or None."""
    found: datetime | None = None
    moment = after
    for _ in range(_MAX_STEPS):
        upcoming = expression.next_after(moment, anchor=anchor)
        if upcoming is None or upcoming > until:
            return found
        found, moment = upcoming, upcoming
    return found


class ScheduleTicker:
    def __init__(
        self,
        group: str,
        *,
        clock: Callable[[], datetime] = _utcnow,
        interval: float = INTERVAL_SECONDS,
    ) -> None:
        self.group = group
        self.clock = clock
        self.interval = interval
        self.fired: list[Fired] = []
        self._seen_until: dict[str, datetime] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _schedules(self) -> list[dict[str, Any]]:
        scheduler = client("scheduler")
        found: list[dict[str, Any]] = []
        for page in scheduler.get_paginator("list_schedules").paginate(GroupName=self.group):
            for summary in page.get("Schedules", []):
                found.append(scheduler.get_schedule(Name=summary["Name"], GroupName=self.group))
        return found

    def tick(self, now: datetime | None = None) -> list[Fired]:
        """Fire what is due at ``now`` (default: the clock); returns what fired."""
        now = now or self.clock()
        fired: list[Fired] = []
        schedules = self._schedules()
        for schedule in schedules:
            done = self._due(schedule, now)
            if done is not None:
                fired.append(done)
        present = {schedule["Name"] for schedule in schedules}
        for name in list(self._seen_until):
            if name not in present:
                del self._seen_until[name]
        self.fired.extend(fired)
        return fired

    def _due(self, schedule: dict[str, Any], now: datetime) -> Fired | None:
        name = str(schedule["Name"])
        if schedule.get("State", "ENABLED") != "ENABLED":
            return None
        created: datetime = schedule["CreationDate"]
        try:
            expression = parse_expression(
                schedule["ScheduleExpression"],
                schedule.get("ScheduleExpressionTimezone") or "UTC",
                now=created,
            )
        except InvalidSchedule as error:
            log.warning("schedule %s cannot fire: %s", name, error)
            return None
        since = self._seen_until.get(name, created)
        self._seen_until[name] = max(since, now)
        occurrence = latest_occurrence(expression, since, now, created)
        if occurrence is None:
            return None
        return self._fire(schedule, expression, occurrence)

    def _fire(
        self, schedule: dict[str, Any], expression: ScheduleExpression, occurrence: datetime
    ) -> Fired:
        target = schedule["Target"]
        text = str(target.get("Input") or "{}")
        for attribute, value in _context(occurrence, str(schedule["Arn"])).items():
            text = text.replace(attribute, value)
        started = client("stepfunctions").start_execution(stateMachineArn=target["Arn"], input=text)
        log.info("schedule %s fired for %s", schedule["Name"], occurrence.isoformat())
        if expression.one_time and schedule.get("ActionAfterCompletion") == "DELETE":
            client("scheduler").delete_schedule(Name=schedule["Name"], GroupName=self.group)
        return Fired(str(schedule["Name"]), occurrence, str(started["executionArn"]))

    # --- running in the background ---

    def start(self) -> ScheduleTicker:
        self._thread = threading.Thread(target=self._run, name="schedule-ticker", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.tick()
            except Exception:  # moto restarting under us: try again next tick
                log.exception("schedule ticker pass failed")

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _start(stack: LocalStack) -> RunningService:
    return ScheduleTicker(stack.schedule_group).start()


SERVICE = LocalService(
    name="scheduler",
    start=_start,
    order=80,
    description="fires the EventBridge Scheduler schedules stored in moto (cron, rate, at)",
)
