"""Benchmark reporting: every benchmark records rows through the ``bench`` fixture.

At the end of the session the rows are printed as one table and written to
``bench-results.json``: a list of {name, value, unit, baseline, ratio, goal?}. Benchmarks
compare against a baseline measured in the same run, so the ratio is what carries meaning on
a shared 2-core machine; absolute values are printed for context only.

The bench files also run in the default suite, small, so that they cannot rot; ``make bench``
sets ``AUTODEV_BENCH_FULL=1`` for the sizes worth reading (``bench_size``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

RESULTS_FILE = Path(__file__).resolve().parents[2] / "bench-results.json"


def bench_size(variable: str, *, small: int, full: int) -> int:
    """A benchmark's size: ``variable`` when set, else ``full`` under ``make bench``
    (AUTODEV_BENCH_FULL=1), else ``small`` (the default suite)."""
    given = os.environ.get(variable)
    if given:
        return int(given)
    return full if os.environ.get("AUTODEV_BENCH_FULL") == "1" else small


@dataclass(frozen=True)
class BenchRow:
    name: str
    value: float
    unit: str
    baseline: float
    ratio: float
    goal: str | None = None

    def as_json(self) -> dict[str, object]:
        row = asdict(self)
        if self.goal is None:
            del row["goal"]
        return row


class BenchReport:
    def __init__(self) -> None:
        self.rows: list[BenchRow] = []

    def record(
        self, name: str, value: float, unit: str, baseline: float, goal: str | None = None
    ) -> BenchRow:
        """Record a measurement and its same-run baseline; the ratio is value / baseline."""
        row = BenchRow(name, value, unit, baseline, value / baseline if baseline else 0.0, goal)
        self.rows.append(row)
        return row


_REPORT = BenchReport()


@pytest.fixture(scope="session")
def bench() -> BenchReport:
    return _REPORT


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    del session, exitstatus
    if not _REPORT.rows:
        return
    RESULTS_FILE.write_text(json.dumps([row.as_json() for row in _REPORT.rows], indent=2) + "\n")
    width = max(len(row.name) for row in _REPORT.rows)
    lines = [
        "",
        f"{'benchmark':<{width}}  {'value':>12}  {'baseline':>12}  {'ratio':>8}  unit / goal",
    ]
    for row in _REPORT.rows:
        goal = f"  (goal: {row.goal})" if row.goal else ""
        lines.append(
            f"{row.name:<{width}}  {row.value:>12.4g}  {row.baseline:>12.4g}  "
            f"{row.ratio:>8.3f}  {row.unit}{goal}"
        )
    lines.append(f"written to {RESULTS_FILE.name}")
    print("\n".join(lines))
