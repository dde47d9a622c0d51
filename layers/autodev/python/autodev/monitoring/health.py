"""Health checks: named functions run on demand; a failing check is reported, never raised.

The spec's ``registerHealthCheck(name, fn)``. Built in, in this order (``checks``):
``database``, ``model_api``, ``step_functions``, ``orchestrator``, ``slack``. A check returns
``Health`` (or a plain bool) and answers in a few seconds at most: each built-in one bounds its
own calls. A check can be *skipped* where its dependency is not configured (no Slack token, no
AWS endpoint): it is shown, and never counts as failing. A check that ``requires`` another is
not run when that one failed (the orchestrator cannot be judged without the database); it
fails naming it. Checks with ``cache_seconds`` (the model API, Slack) reuse their last answer
that long, so the dashboard and ``GET /health`` stay cheap when called often.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from autodev.errors import AutodevError


@dataclass(frozen=True)
class Health:
    healthy: bool
    detail: str = ""
    # Not configured here (no token, no endpoint): shown, never counted as failing.
    skipped: bool = False

    @classmethod
    def skip(cls, detail: str) -> Health:
        return cls(True, detail, skipped=True)


@dataclass(frozen=True)
class HealthCheckResult:
    name: str
    healthy: bool
    detail: str
    milliseconds: float
    skipped: bool = False

    @property
    def state(self) -> Literal["ok", "failing", "skipped"]:
        if self.skipped:
            return "skipped"
        return "ok" if self.healthy else "failing"


HealthCheck = Callable[[], Health | bool]


@dataclass(frozen=True)
class _Registration:
    check: HealthCheck
    requires: str | None = None
    cache_seconds: float = 0.0


_DETAIL_LIMIT = 200

_checks: dict[str, _Registration] = {}
_cache: dict[str, tuple[float, HealthCheckResult]] = {}
_lock = threading.Lock()


def register_health_check(
    name: str, check: HealthCheck, *, requires: str | None = None, cache_seconds: float = 0.0
) -> None:
    """Add (or replace) the check called ``name``.

    ``requires``: a check that must pass first (else this one fails, naming it, without
    running). ``cache_seconds``: how long an answer is reused.
    """
    if not name.strip():
        raise ValueError("a health check needs a name")
    if cache_seconds < 0:
        raise ValueError("cache_seconds cannot be negative")
    with _lock:
        _checks[name] = _Registration(check, requires, cache_seconds)
        _cache.pop(name, None)


def unregister_health_check(name: str) -> None:
    with _lock:
        _checks.pop(name, None)
        _cache.pop(name, None)


def health_check_names() -> list[str]:
    with _lock:
        return list(_checks)


def forget_cached_health() -> None:
    """Drop every cached answer (the next run asks each dependency again)."""
    with _lock:
        _cache.clear()


def _why(error: BaseException) -> str:
    # An AutodevError's message is written for a person (and free of secrets); anything else
    # is named by its type and first line only, so a stray connection string stays short.
    if isinstance(error, AutodevError):
        text = str(error)
    else:
        first = str(error).strip().splitlines()
        text = f"{type(error).__name__}: {first[0]}" if first else type(error).__name__
    return _clip(text)


def _clip(text: str) -> str:
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def _run_one(name: str, registration: _Registration) -> HealthCheckResult:
    started = time.perf_counter()
    try:
        outcome = registration.check()
        health = outcome if isinstance(outcome, Health) else Health(bool(outcome))
    except Exception as error:
        health = Health(False, _why(error))
    elapsed = (time.perf_counter() - started) * 1000
    return HealthCheckResult(
        name, health.healthy, _clip(health.detail), round(elapsed, 1), health.skipped
    )


def run_health_checks(*, fresh: bool = False) -> list[HealthCheckResult]:
    """Every registered check, in registration order, each with how long it took.

    ``fresh`` ignores cached answers (they are replaced by the new ones).
    """
    with _lock:
        checks = list(_checks.items())
    results: list[HealthCheckResult] = []
    done: dict[str, HealthCheckResult] = {}
    for name, registration in checks:
        required = done.get(registration.requires or "")
        if required is not None and not required.healthy:
            result = HealthCheckResult(name, False, f"not checked: {required.name} is failing", 0.0)
        elif required is not None and required.skipped:
            result = HealthCheckResult(
                name, True, f"not checked: {required.name} is skipped", 0.0, skipped=True
            )
        else:
            result = _cached(name, registration, fresh)
        done[name] = result
        results.append(result)
    return results


def _cached(name: str, registration: _Registration, fresh: bool) -> HealthCheckResult:
    if registration.cache_seconds and not fresh:
        with _lock:
            hit = _cache.get(name)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
    result = _run_one(name, registration)
    if registration.cache_seconds:
        with _lock:
            _cache[name] = (time.monotonic() + registration.cache_seconds, result)
    return result


def failing(results: list[HealthCheckResult]) -> list[HealthCheckResult]:
    """The checks that failed (skipped ones never do)."""
    return [result for result in results if not result.healthy]


def _register_builtins() -> None:
    # Imported here: the built-in checks use Health from this module.
    from autodev.monitoring import checks

    checks.register_builtins()


_register_builtins()
