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
from dataclasses import dataclass
from typing import Any

from autodev.errors import InvalidInput

# How long the average remembers: a stall shorter than this moves the ETA only partly.
RATE_TIME_CONSTANT_SECONDS = 60.0
MIN_SAMPLE_SECONDS = 1.0
# The ETA is "unknown" until this many samples have been averaged.
MIN_SAMPLES_FOR_ETA = 3

METRIC_NAMES = ("messages", "tokens", "cost_usd", "files_modified", "tool_calls")


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


def merge_metrics(current: dict[str, Any], update: dict[str, Any] | None) -> dict[str, Any]:
    """Cumulative totals: each metric given replaces the stored one; unknown names refused."""
    merged = {name: current.get(name, 0) for name in METRIC_NAMES}
    for name, value in (update or {}).items():
        if name not in METRIC_NAMES:
            raise InvalidInput(f"unknown metric {name!r}; known: {', '.join(METRIC_NAMES)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InvalidInput(f"metric {name} must be a number, 0 or more")
        merged[name] = float(value) if name == "cost_usd" else int(value)
    return merged


def sum_metrics(many: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = dict.fromkeys(METRIC_NAMES, 0)
    total["cost_usd"] = 0.0
    for metrics in many:
        for name in METRIC_NAMES:
            total[name] += metrics.get(name, 0) or 0
    total["cost_usd"] = round(float(total["cost_usd"]), 6)
    return total
