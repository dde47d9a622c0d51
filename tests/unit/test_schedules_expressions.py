"""Schedule expressions as EventBridge Scheduler reads them: what is refused and why, and when
each accepted one fires next (what the local ticker relies on)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from autodev.local.scheduler import latest_occurrence
from autodev.schedules.expressions import InvalidSchedule, parse_expression

NOW = datetime(2025, 3, 29, 12, 0, tzinfo=UTC)  # a Saturday, the eve of Paris's DST change


@pytest.mark.parametrize(
    ("text", "timezone", "canonical", "first"),
    [
        ("cron(0 9 ? * MON-FRI *)", "UTC", "cron(0 9 ? * MON-FRI *)", "2025-03-31T09:00"),
        # Day-of-week counts from Sunday = 1; the time zone's offset applies (CEST from Sunday).
        ("cron(0 9 ? * 2-6 *)", "Europe/Paris", "cron(0 9 ? * 2-6 *)", "2025-03-31T07:00"),
        ("cron( 0/15  * * * ? * )", "UTC", "cron(0/15 * * * ? *)", "2025-03-29T12:15"),
        ("cron(0 10 ? * 6L *)", "UTC", "cron(0 10 ? * 6L *)", "2025-04-25T10:00"),  # last Fri
        ("cron(0 10 ? * 2#1 *)", "UTC", "cron(0 10 ? * 2#1 *)", "2025-04-07T10:00"),  # 1st Mon
        ("cron(0 8 15W * ? *)", "UTC", "cron(0 8 15W * ? *)", "2025-04-15T08:00"),
        ("cron(0 12 L * ? *)", "UTC", "cron(0 12 L * ? *)", "2025-03-31T12:00"),
        (
            "cron(30 6 1 JAN,JUL ? 2026-2030)",
            "UTC",
            "cron(30 6 1 JAN,JUL ? 2026-2030)",
            "2026-01-01T06:30",
        ),
        ("rate(1 minutes)", "UTC", "rate(1 minute)", "2025-03-29T12:01"),
        ("rate(6 hours)", "Asia/Tokyo", "rate(6 hours)", "2025-03-29T18:00"),
        ("at(2025-03-30T09:00:00)", "Europe/London", "at(2025-03-30T09:00:00)", "2025-03-30T08:00"),
    ],
)
def test_accepted_expressions_and_their_next_firing(
    text: str, timezone: str, canonical: str, first: str
) -> None:
    expression = parse_expression(text, timezone, now=NOW)
    assert expression.text == canonical
    assert expression.timezone == timezone
    upcoming = expression.next_after(NOW, anchor=NOW)
    assert upcoming is not None
    assert upcoming.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") == first


@pytest.mark.parametrize(
    ("text", "timezone", "reason"),
    [
        ("cron(0 9 * * MON-FRI *)", "UTC", "one of day-of-month and day-of-week must be `?`"),
        ("cron(0 9 ? * ? *)", "UTC", "one of day-of-month and day-of-week must be `?`"),
        ("cron(0 9 ? * MON)", "UTC", "cron takes 6 fields"),
        ("cron(61 9 ? * MON *)", "UTC", "the minutes field has 61: expected 0 to 59"),
        ("cron(0 24 ? * MON *)", "UTC", "the hours field has 24"),
        ("cron(0 9 32 * ? *)", "UTC", "the day-of-month field has 32"),
        ("cron(0 9 ? FOO * *)", "UTC", "the month field has `FOO`"),
        ("cron(0 9 ? * 8 *)", "UTC", "the day-of-week field has 8: expected 1 to 7"),
        ("cron(0 9 ? * 1/2 *)", "UTC", "takes no `/` step"),
        ("cron(0 9 LW * ? *)", "UTC", "`LW` (last weekday) is not supported"),
        ("cron(0 9 1 1 ? 2020)", "UTC", "never fires after now"),
        ("cron(0 9 ? * MON *)", "Mars/Olympus", "is not a time zone"),
        ("rate(0 minutes)", "UTC", "a rate is at least 1"),
        ("rate(5 weeks)", "UTC", "expected rate(N minutes|hours|days)"),
        ("at(2020-01-01T00:00:00)", "UTC", "is in the past"),
        ("at(2030-02-30T00:00:00)", "UTC", "is not a date and time"),
        ("at(tomorrow)", "UTC", "expected at(yyyy-mm-ddThh:mm:ss)"),
        ("every day at nine", "UTC", "use cron(...), rate(...) or at(...)"),
        ("cron(" + "1," * 200 + "2 * ? * * *)", "UTC", "at most 256 characters"),
    ],
)
def test_refused_expressions_say_why(text: str, timezone: str, reason: str) -> None:
    with pytest.raises(InvalidSchedule) as refused:
        parse_expression(text, timezone, now=NOW)
    assert reason in str(refused.value)


def test_a_rate_counts_from_when_the_schedule_was_created() -> None:
    expression = parse_expression("rate(15 minutes)", now=NOW)
    created = NOW - timedelta(minutes=20)
    assert expression.next_after(NOW, anchor=created) == created + timedelta(minutes=30)
    # Before its creation it first fires at its creation.
    assert expression.next_after(created - timedelta(hours=1), anchor=created) == created


def test_a_one_time_schedule_fires_once() -> None:
    expression = parse_expression("at(2025-03-29T12:30:00)", now=NOW)
    when = datetime(2025, 3, 29, 12, 30, tzinfo=UTC)
    assert expression.one_time
    assert expression.next_after(NOW) == when
    assert expression.next_after(when) is None


def test_the_ticker_fires_the_latest_missed_occurrence_once() -> None:
    expression = parse_expression("rate(1 minute)", now=NOW)
    # Ten minutes without a tick: one firing, for the latest minute.
    assert latest_occurrence(expression, NOW, NOW + timedelta(minutes=10, seconds=30), NOW) == (
        NOW + timedelta(minutes=10)
    )
    assert latest_occurrence(expression, NOW, NOW + timedelta(seconds=59), NOW) is None
    daily = parse_expression("cron(0 9 ? * * *)", "Europe/Paris", now=NOW)
    # Across the DST change, 09:00 in Paris is 08:00 UTC on Saturday and 07:00 on Sunday.
    sunday = datetime(2025, 3, 30, 7, 0, tzinfo=UTC)
    assert latest_occurrence(daily, NOW, sunday, NOW) == sunday
    assert latest_occurrence(daily, NOW, sunday - timedelta(seconds=1), NOW) is None
