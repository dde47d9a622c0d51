"""Durations as a person reads them, shared by the progress message and the Slack cards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from autodev.durations import format_duration
from autodev.slack.views import elapsed


def test_durations_read_as_a_person_would() -> None:
    assert format_duration(None) == "unknown"
    assert format_duration(42) == "42s"
    assert format_duration(125) == "2m 05s"
    assert format_duration(3720) == "1h 02m"


def test_elapsed_time_of_a_workflow() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert elapsed(None, None, start) == ""
    assert elapsed(start, start + timedelta(seconds=125), None) == "2m 05s"
    assert elapsed(start, None, start + timedelta(hours=1, minutes=2)) == "1h 02m"
    # A clock that is behind the start never shows a negative time.
    assert elapsed(start, None, start - timedelta(seconds=5)) == "0s"
