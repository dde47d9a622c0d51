"""Scheduled workflow runs: ``/workflow schedule``, ``/workflow schedules``,
``/workflow unschedule`` and ``autodev workflow schedule|schedules|unschedule``.

Each schedule is a ``scheduled_jobs`` row (this package owns the table) and an EventBridge
Scheduler schedule of the same name in ``AUTODEV_SCHEDULE_GROUP`` that starts the template's
state machine; the state machine's first states register the run (``runs``). By use case:
``expressions`` (cron/rate/at, checked as EventBridge reads them, with their next firing),
``service`` (create, list, remove), ``scheduler`` (the Scheduler API), ``runs`` (a run's
registration), ``store`` (the table). On the local stack a ticker fires the same schedules
(``autodev.local.scheduler``).
"""

from autodev.schedules.expressions import InvalidSchedule, ScheduleExpression, parse_expression
from autodev.schedules.runs import RunRequest, parse_request, register_run
from autodev.schedules.scheduler import SchedulerError
from autodev.schedules.service import (
    Scheduled,
    ScheduleRequest,
    list_schedules,
    schedule_workflow,
    unschedule,
)
from autodev.schedules.store import ScheduledJob

__all__ = [
    "InvalidSchedule",
    "RunRequest",
    "ScheduleExpression",
    "ScheduleRequest",
    "Scheduled",
    "ScheduledJob",
    "SchedulerError",
    "list_schedules",
    "parse_expression",
    "parse_request",
    "register_run",
    "schedule_workflow",
    "unschedule",
]
