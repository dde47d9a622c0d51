"""The spec's monitoring system: dashboard data, health checks, alerts and retention.

``dashboard(window_hours)`` is what ``autodev monitor`` and Slack's ``/monitor`` show;
``register_health_check(name, fn)`` adds a check to it (``database``, ``model_api``,
``step_functions``, ``orchestrator`` and ``slack`` are built in, see ``checks``);
``autodev.monitoring.alerts`` raises, repeats and resolves alerts (the evaluator and
CloudWatch alarms); ``autodev.monitoring.retention`` rolls old metric rows up into hourly
figures.
"""

from __future__ import annotations

from autodev.monitoring.figures import (
    AlertView,
    Dashboard,
    ModelUsage,
    TaskCounts,
    TaskDurations,
    dashboard,
)
from autodev.monitoring.health import (
    Health,
    HealthCheckResult,
    failing,
    forget_cached_health,
    health_check_names,
    register_health_check,
    run_health_checks,
    unregister_health_check,
)

__all__ = [
    "AlertView",
    "Dashboard",
    "Health",
    "HealthCheckResult",
    "ModelUsage",
    "TaskCounts",
    "TaskDurations",
    "dashboard",
    "failing",
    "forget_cached_health",
    "health_check_names",
    "register_health_check",
    "run_health_checks",
    "unregister_health_check",
]
