"""The spec's monitoring system: dashboard data from Postgres, and health checks.

``dashboard(window_hours)`` is what ``autodev monitor`` and Slack's ``/monitor`` show;
``register_health_check(name, fn)`` adds a check to it (``database`` is built in).
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
    "register_health_check",
    "run_health_checks",
    "unregister_health_check",
]
