"""Health checks: named functions run on demand; a failing check is reported, never raised.

A check returns ``Health`` (or a plain bool) and should answer in well under a second: the
dashboard runs every registered check each time it is shown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from autodev.errors import AutodevError


@dataclass(frozen=True)
class Health:
    healthy: bool
    detail: str = ""


@dataclass(frozen=True)
class HealthCheckResult:
    name: str
    healthy: bool
    detail: str
    milliseconds: float


HealthCheck = Callable[[], Health | bool]

_DETAIL_LIMIT = 200


def _database() -> Health:
    from autodev.db import connection

    with connection() as conn:
        row = conn.execute("SELECT current_setting('server_version') AS version").fetchone()
    return Health(True, f"PostgreSQL {row['version']}" if row else "")


_checks: dict[str, HealthCheck] = {"database": _database}
_lock = threading.Lock()


def register_health_check(name: str, check: HealthCheck) -> None:
    """Add (or replace) the check called ``name``."""
    if not name.strip():
        raise ValueError("a health check needs a name")
    with _lock:
        _checks[name] = check


def unregister_health_check(name: str) -> None:
    with _lock:
        _checks.pop(name, None)


def _why(error: BaseException) -> str:
    # An AutodevError's message is written for a person (and free of secrets); anything else
    # is named by its type and first line only, so a stray connection string stays short.
    if isinstance(error, AutodevError):
        text = str(error)
    else:
        first = str(error).strip().splitlines()
        text = f"{type(error).__name__}: {first[0]}" if first else type(error).__name__
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def run_health_checks() -> list[HealthCheckResult]:
    """Every registered check, in registration order, each with how long it took."""
    with _lock:
        checks = list(_checks.items())
    results = []
    for name, check in checks:
        started = time.perf_counter()
        try:
            outcome = check()
            health = outcome if isinstance(outcome, Health) else Health(bool(outcome))
        except Exception as error:
            health = Health(False, _why(error))
        elapsed = (time.perf_counter() - started) * 1000
        results.append(HealthCheckResult(name, health.healthy, health.detail, round(elapsed, 1)))
    return results
