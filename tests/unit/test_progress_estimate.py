"""The arithmetic of progress: weighted stages and the smoothed ETA, without a database."""

from __future__ import annotations

import pytest

from autodev.errors import InvalidInput
from autodev.progress import Metrics, estimate
from autodev.progress.estimate import RateState, Stage


def _run(stages: list[Stage], durations: list[float], step: float, until: float) -> RateState:
    """Advance through ``stages`` (stage i lasting durations[i]) sampling every ``step``."""
    state = RateState(None, 0, 0.0, 0.0)
    t = 0.0
    while t < until:
        t = round(t + step, 9)
        stages = _at(stages, durations, t)
        state = estimate.observe(state, t, estimate.overall_percent(stages))
    return state


def _at(stages: list[Stage], durations: list[float], t: float) -> list[Stage]:
    out, start = [], 0.0
    for stage, duration in zip(stages, durations, strict=True):
        share = min(1.0, max(0.0, (t - start) / duration))
        out.append(Stage(stage.name, stage.weight, 100.0 * share))
        start += duration
    return out


def test_overall_percent_weighs_finished_stages_and_the_current_share() -> None:
    stages = [Stage("Setup", 1, 100.0), Stage("Analysis", 3, 50.0), Stage("Report", 1, 0.0)]
    # (1 * 1 + 3 * 0.5) / 5 = 0.5
    assert estimate.overall_percent(stages) == pytest.approx(50.0)
    assert estimate.overall_percent([Stage("only", 2, 25.0)]) == pytest.approx(25.0)


def test_eta_is_unknown_until_there_is_signal() -> None:
    state = RateState(None, 0, 0.0, 0.0)
    assert estimate.eta_seconds(state, 0.0) is None
    state = estimate.observe(state, 2.0, 1.0)
    assert estimate.eta_seconds(state, 1.0) is None  # one sample is not enough
    # Updates closer together than a second are merged, not counted as samples.
    burst = estimate.observe(state, 2.5, 1.2)
    assert burst == state


def test_eta_at_constant_rate_is_within_ten_percent_by_halfway() -> None:
    # 500 s of work in stages whose durations match their weights: a constant overall rate.
    stages = [Stage("Setup", 1), Stage("Analysis", 3), Stage("Report", 1)]
    durations = [100.0, 300.0, 100.0]
    state = _run(stages, durations, step=2.0, until=250.0)
    percent = estimate.overall_percent(_at(stages, durations, 250.0))
    eta = estimate.eta_seconds(state, percent)
    assert percent == pytest.approx(50.0)
    assert eta is not None
    assert abs(eta - 250.0) <= 25.0


def test_one_slow_stretch_does_not_swing_the_eta() -> None:
    # 1 %/s steadily, then a 10 s stall (a slow tool call), then steady again.
    state = RateState(None, 0, 0.0, 0.0)
    percent, t = 0.0, 0.0
    for _ in range(30):
        t, percent = t + 1, percent + 1
        state = estimate.observe(state, t, percent)
    before = estimate.eta_seconds(state, percent)
    t += 10
    state = estimate.observe(state, t, percent)
    after = estimate.eta_seconds(state, percent)
    assert before == pytest.approx(70.0)
    assert after is not None
    assert before is not None
    # A naive rate over the last sample would say "never"; the smoothed one moves by < 20 %.
    assert after < before * 1.2


def test_stages_and_metrics_are_validated() -> None:
    assert estimate.parse_stages(None)[0].name == "Working"
    for bad in ([], [{"name": "a", "weight": 0}], [{"weight": 1}], [{"name": "a"}, {"name": "a"}]):
        with pytest.raises(InvalidInput):
            estimate.parse_stages(bad)
    merged = estimate.merge_metrics({"tokens": 5}, {"messages": 2, "cost_usd": 0.5})
    assert merged == Metrics(messages=2, tokens=5, cost_usd=0.5)
    with pytest.raises(InvalidInput, match="unknown metric"):
        estimate.merge_metrics({}, {"bogus": 1})
    for bad_value in (-1, True, "12", 1.5):
        with pytest.raises(InvalidInput, match="metric tokens"):
            estimate.merge_metrics({}, {"tokens": bad_value})
    # A Metrics update replaces only the fields it was given.
    assert estimate.merge_metrics(merged, Metrics(tool_calls=4)) == Metrics(
        messages=2, tokens=5, cost_usd=0.5, tool_calls=4
    )
