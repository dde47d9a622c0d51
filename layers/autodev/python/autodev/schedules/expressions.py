"""EventBridge Scheduler's schedule expressions: ``cron(...)``, ``rate(...)``, ``at(...)``.

``parse_expression`` checks an expression the way EventBridge Scheduler reads it and says what
is wrong in one line, so a bad schedule is refused before anything is created; the result
knows its next firing time (``next_after``), which the local stack's ticker uses to fire the
same schedules. Cron times are evaluated with croniter after translating EventBridge's
dialect (six fields with a year, day-of-week 1-7 from Sunday, ``?``, ``L``, ``W``, ``#``).

- ``cron(minutes hours day-of-month month day-of-week year)``: one of day-of-month and
  day-of-week is ``?``. Read in the schedule's time zone.
- ``rate(N minute|minutes|hour|hours|day|days)``: every N units from when the schedule was
  created (the time zone does not apply).
- ``at(yyyy-mm-ddThh:mm:ss)``: once, at that wall-clock time in the schedule's time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

from autodev.errors import InvalidInput

MAX_EXPRESSION = 256
_SHAPE = re.compile(r"^(?P<kind>cron|rate|at)\((?P<body>[^()]*)\)$")
_RATE = re.compile(r"^(?P<value>\d{1,6}) (?P<unit>minute|minutes|hour|hours|day|days)$")
_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400}

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


class InvalidSchedule(InvalidInput):
    """The schedule expression or its time zone is not valid; the message says why."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # JAN.. or SUN..: names for low, low+1, ...
    special: str = ""  # the characters beyond , - * / it allows


_FIELDS = (
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31, special="?LW"),
    _Field("month", 1, 12, MONTHS),
    _Field("day-of-week", 1, 7, DAYS, special="?L#"),
    # EventBridge accepts up to 2199; croniter evaluates up to 2099.
    _Field("year", 1970, 2099),
)


def _number(field: _Field, text: str) -> int:
    upper = text.upper()
    if field.names and upper in field.names:
        return field.low + field.names.index(upper)
    if not text.isdigit():
        allowed = f"{field.low}-{field.high}" + (
            f" or {field.names[0]}-{field.names[-1]}" if field.names else ""
        )
        raise InvalidSchedule(f"the {field.name} field has `{text}`: expected {allowed}")
    value = int(text)
    if not field.low <= value <= field.high:
        raise InvalidSchedule(
            f"the {field.name} field has {value}: expected {field.low} to {field.high}"
        )
    return value


def _range_or_value(field: _Field, text: str) -> None:
    if text == "*":
        return
    low, dash, high = text.partition("-")
    _number(field, low)
    if dash:
        _number(field, high)


def _check_item(field: _Field, item: str, alone: bool) -> None:
    """One comma-separated item of a field; ``alone``: the field has no other item."""
    if not item:
        raise InvalidSchedule(f"the {field.name} field has an empty item")
    if item == "?":
        if "?" not in field.special:
            raise InvalidSchedule(
                f"`?` is only allowed in day-of-month or day-of-week, not {field.name}"
            )
        if not alone:
            raise InvalidSchedule(f"`?` stands alone in the {field.name} field")
        return
    if field.name == "day-of-month" and (item == "L" or item.endswith("W")):
        if not alone:
            raise InvalidSchedule(f"`{item}` stands alone in the day-of-month field")
        if item in ("LW", "L"):
            if item == "LW":
                raise InvalidSchedule(
                    "`LW` (last weekday) is not supported; use `L` or a day with `W`"
                )
            return
        _number(field, item[:-1])
        return
    if item.startswith("L-"):
        raise InvalidSchedule(f"`{item}` (days before the last) is not supported")
    if field.name == "day-of-week" and item == "L":
        raise InvalidSchedule("day-of-week takes `L` after a day: `6L` is the last Friday")
    if field.name == "day-of-week" and ("#" in item or item.endswith("L")):
        if not alone:
            raise InvalidSchedule(f"`{item}` stands alone in the day-of-week field")
        if "#" in item:
            day, _, nth = item.partition("#")
            _number(field, day)
            if not (nth.isdigit() and 1 <= int(nth) <= 5):
                raise InvalidSchedule(f"`{item}`: the week after `#` is 1 to 5")
            return
        _number(field, item[:-1])
        return
    if "/" in item:
        start, _, step = item.partition("/")
        if field.name == "day-of-week":
            raise InvalidSchedule("the day-of-week field takes no `/` step")
        if not (step.isdigit() and int(step) >= 1):
            raise InvalidSchedule(f"the {field.name} field has step `{step}`: expected a number")
        _range_or_value(field, start)
        return
    _range_or_value(field, item)


def _dow(item: str) -> str:
    """An EventBridge day-of-week item (1 = Sunday) in croniter's numbering (0 = Sunday)."""

    def shift(text: str) -> str:
        return str(int(text) - 1) if text.isdigit() else text

    if item in ("*", "?"):
        return "*"
    if "#" in item:
        day, _, nth = item.partition("#")
        return f"{shift(day)}#{nth}"
    if item.endswith("L"):
        return f"L{shift(item[:-1])}"
    low, dash, high = item.partition("-")
    return shift(low) + (f"-{shift(high)}" if dash else "")


def _cron_fields(body: str) -> list[str]:
    fields = body.split()
    if len(fields) != 6:
        raise InvalidSchedule(
            f"cron takes 6 fields (minutes hours day-of-month month day-of-week year),"
            f" not {len(fields)}"
        )
    for field, value in zip(_FIELDS, fields, strict=True):
        items = value.split(",")
        for item in items:
            _check_item(field, item, alone=len(items) == 1)
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise InvalidSchedule("one of day-of-month and day-of-week must be `?` (and not both)")
    return fields


def _croniter_form(fields: list[str]) -> str:
    minutes, hours, day_of_month, month, day_of_week, year = fields
    dom = "*" if day_of_month == "?" else day_of_month
    dow = ",".join(_dow(item) for item in day_of_week.split(","))
    # croniter's seven fields: minute hour day month weekday second year.
    return f"{minutes} {hours} {dom} {month} {dow} 0 {year}"


@dataclass(frozen=True)
class ScheduleExpression:
    """A checked expression: ``text`` is what EventBridge Scheduler is given."""

    kind: Literal["cron", "rate", "at"]
    text: str
    timezone: str
    _cron: str = ""
    _every_seconds: int = 0
    _at: datetime | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def one_time(self) -> bool:
        return self.kind == "at"

    def next_after(self, moment: datetime, *, anchor: datetime | None = None) -> datetime | None:
        """The first firing strictly after ``moment`` (UTC), or None when it never fires
        again. A rate counts from ``anchor`` (when the schedule was created; default
        ``moment``)."""
        if moment.tzinfo is None:
            raise ValueError("next_after needs an aware datetime")
        if self.kind == "at":
            assert self._at is not None
            return self._at if self._at > moment else None
        if self.kind == "rate":
            start = anchor or moment
            if start > moment:
                return start
            periods = int((moment - start).total_seconds() // self._every_seconds) + 1
            return start + timedelta(seconds=periods * self._every_seconds)
        try:
            found = croniter(self._cron, moment.astimezone(self.zone)).get_next(datetime)
        except CroniterBadDateError:
            return None
        return found.astimezone(UTC)

    def describe(self) -> str:
        if self.kind == "rate":
            return f"every {self.text[5:-1]}"
        if self.kind == "at":
            return f"once at {self.text[3:-1]} {self.timezone}"
        return f"{self.text} {self.timezone}"


def check_timezone(timezone: str) -> str:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(
            f"`{timezone[:60]}` is not a time zone (use an IANA name like UTC or Europe/Paris)"
        ) from None
    return timezone


def parse_expression(
    text: str, timezone: str = "UTC", *, now: datetime | None = None
) -> ScheduleExpression:
    """The checked expression; InvalidSchedule says what is wrong. ``now`` (default: the
    current time) is what ``at(...)`` must be after and what a cron must fire after."""
    now = now or datetime.now(UTC)
    timezone = check_timezone(timezone.strip() or "UTC")
    text = " ".join((text or "").split())
    if len(text) > MAX_EXPRESSION:
        raise InvalidSchedule(f"a schedule expression has at most {MAX_EXPRESSION} characters")
    match = _SHAPE.match(text.replace("( ", "(").replace(" )", ")"))
    if match is None:
        raise InvalidSchedule(
            f"`{text[:80]}` is not a schedule: use cron(...), rate(...) or at(...),"
            " e.g. cron(0 9 ? * MON-FRI *), rate(6 hours), at(2030-01-31T09:00:00)"
        )
    kind, body = match["kind"], match["body"].strip()
    if kind == "rate":
        return _rate(body, timezone)
    if kind == "at":
        return _at(body, timezone, now)
    fields = _cron_fields(body)
    form = _croniter_form(fields)
    try:
        croniter(form, now)
    except (CroniterBadCronError, CroniterError) as error:
        raise InvalidSchedule(f"cron({body}) is not valid: {error}") from None
    expression = ScheduleExpression("cron", f"cron({' '.join(fields)})", timezone, _cron=form)
    if expression.next_after(now) is None:
        raise InvalidSchedule(f"cron({body}) never fires after now")
    return expression


def _rate(body: str, timezone: str) -> ScheduleExpression:
    match = _RATE.match(body)
    if match is None:
        raise InvalidSchedule(
            f"rate({body}) is not valid: expected rate(N minutes|hours|days), e.g. rate(15 minutes)"
        )
    value, unit = int(match["value"]), match["unit"].rstrip("s")
    if value < 1:
        raise InvalidSchedule("a rate is at least 1")
    # EventBridge wants the singular for 1 and the plural otherwise.
    text = f"rate({value} {unit if value == 1 else unit + 's'})"
    return ScheduleExpression("rate", text, timezone, _every_seconds=value * _UNIT_SECONDS[unit])


def _at(body: str, timezone: str, now: datetime) -> ScheduleExpression:
    if not _AT.match(body):
        raise InvalidSchedule(f"at({body}) is not valid: expected at(yyyy-mm-ddThh:mm:ss)")
    try:
        local = datetime.fromisoformat(body)
    except ValueError as error:
        raise InvalidSchedule(f"at({body}) is not a date and time: {error}") from None
    moment = local.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)
    if moment <= now:
        raise InvalidSchedule(f"at({body}) {timezone} is in the past")
    return ScheduleExpression("at", f"at({body})", timezone, _at=moment)
