"""The arithmetic of progress: weighted stages, and an ETA from the smoothed rate.

Pure functions, so the numbers can be checked without a database.

The rate is an exponentially weighted moving average of the observed rate (percent per
second) whose weight depends on the time a sample covers (``1 - exp(-dt / tau)``): samples
arriving in bursts or at irregular intervals count for the time they span, not for their
number, and one slow stretch moves the estimate by a fraction of its length over ``tau``
rather than swinging it. Samples closer together than ``MIN_SAMPLE_SECONDS`` are merged into
the next one, so two hundred updates in a second make one sample, not two hundred noisy ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from autodev.errors import InvalidInput
from autodev.events import Metrics

# How long the average remembers: a stall shorter than this moves the ETA only partly.
RATE_TIME_CONSTANT_SECONDS = 60.0
MIN_SAMPLE_SECONDS = 1.0
# The ETA is "unknown" until this many samples have been averaged.
MIN_SAMPLES_FOR_ETA = 3

METRIC_NAMES = tuple(Metrics.model_fields)


@dataclass(frozen=True)
class Stage:
    name: str
    weight: float
    progress: float = 0.0  # percent of this stage done, 0..100
    status: str = "pending"  # pending, running, done, failed

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "weight": self.weight,
            "progress": self.progress,
            "status": self.status,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Stage:
        return cls(
            str(raw["name"]),
            float(raw["weight"]),
            float(raw.get("progress", 0.0)),
            str(raw.get("status", "pending")),
        )


def parse_stages(raw: list[dict[str, Any]] | None) -> list[Stage]:
    """Validate ``[{name, weight}]``; one stage called "Working" when none are given."""
    if raw is None:
        return [Stage("Working", 1.0)]
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("stages must be a non-empty list of {name, weight}")
    stages: list[Stage] = []
    for item in raw:
        if not isinstance(item, dict) or not str(item.get("name") or "").strip():
            raise InvalidInput("every stage needs a name")
        weight = item.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            raise InvalidInput(f"stage {item['name']!r}: weight must be a number above 0")
        stages.append(Stage(str(item["name"]).strip(), float(weight)))
    if len({stage.name for stage in stages}) != len(stages):
        raise InvalidInput("stage names must be unique")
    return stages


def overall_percent(stages: list[Stage]) -> float:
    """The weighted share done: finished stages count whole, the others by their progress."""
    total = sum(stage.weight for stage in stages)
    done = sum(stage.weight * min(100.0, max(0.0, stage.progress)) / 100.0 for stage in stages)
    return round(100.0 * done / total, 4) if total > 0 else 0.0


@dataclass(frozen=True)
class RateState:
    rate: float | None  # smoothed percent per second
    samples: int
    sampled_at: float
    sampled_percent: float


def observe(state: RateState, now: float, percent: float) -> RateState:
    """Fold the progress seen at ``now`` into the smoothed rate."""
    dt = now - state.sampled_at
    if dt < MIN_SAMPLE_SECONDS:
        return state
    observed = max(0.0, (percent - state.sampled_percent) / dt)
    if state.rate is None:
        rate = observed
    else:
        weight = 1.0 - math.exp(-dt / RATE_TIME_CONSTANT_SECONDS)
        rate = state.rate + weight * (observed - state.rate)
    return RateState(rate, state.samples + 1, now, percent)


def eta_seconds(state: RateState, percent: float) -> float | None:
    """Seconds to 100 % at the smoothed rate, or None while there is too little signal."""
    if percent >= 100.0:
        return 0.0
    if state.rate is None or state.samples < MIN_SAMPLES_FOR_ETA or state.rate <= 0:
        return None
    return (100.0 - percent) / state.rate


def as_metrics(raw: Mapping[str, Any] | Metrics | None) -> Metrics:
    """Metrics from a stored or given mapping; InvalidInput names what does not fit."""
    if isinstance(raw, Metrics):
        return raw
    try:
        return Metrics.model_validate(dict(raw or {}))
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "metrics"
        if first["type"] == "extra_forbidden":
            known = ", ".join(METRIC_NAMES)
            raise InvalidInput(f"unknown metric {name!r}; known: {known}") from None
        raise InvalidInput(f"metric {name}: {first['msg']}") from None


def merge_metrics(
    current: Mapping[str, Any] | Metrics, update: Mapping[str, Any] | Metrics | None
) -> Metrics:
    """Cumulative totals: each metric given replaces the stored one; unknown names refused."""
    base = as_metrics(current)
    if update is None:
        return base
    given = update.model_dump(exclude_unset=True) if isinstance(update, Metrics) else update
    return as_metrics({**base.model_dump(), **given})


def sum_metrics(many: Iterable[Mapping[str, Any] | Metrics]) -> Metrics:
    """The totals of several tasks' metrics (a workflow's, from its steps')."""
    parts = [as_metrics(item) for item in many]
    return Metrics(
        messages=sum(part.messages for part in parts),
        tokens=sum(part.tokens for part in parts),
        cost_usd=round(sum(part.cost_usd for part in parts), 6),
        files_modified=sum(part.files_modified for part in parts),
        tool_calls=sum(part.tool_calls for part in parts),
    )
