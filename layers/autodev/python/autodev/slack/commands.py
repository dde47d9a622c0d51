"""Parsing the slash commands ``/workflow``, ``/monitor`` and ``/orchestrator``.

Pure functions on the command name and text Slack sends; no I/O, so they are cheap on the
request path and easy to test. Anything the parser does not understand raises ``UsageError``
whose message is the short usage a Slack user expects to see.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from enum import StrEnum

from autodev import validation
from autodev.errors import InvalidInput

WORKFLOW_USAGE = (
    "*Usage:* `/workflow list` · `/workflow repos` · "
    "`/workflow start <template> [text or key=value ...] [budget=<US dollars>]` · "
    "`/workflow status <id>` · `/workflow approve <id> [comment]` · "
    "`/workflow reject <id> [comment]` · `/workflow cancel <id>` · "
    "`/workflow schedule <template> <cron(…)|rate(…)|at(…)> [input]` · "
    "`/workflow schedules` · `/workflow unschedule <id>` · `/workflow audit <id>` · "
    "`/workflow remember [--team] <fact>` · `/workflow memories` · "
    "`/workflow forget <id|text>` · `/workflow help`. "
    "`<id>`: a workflow's id, execution name (`bug-fix-1650cb25`) or short id."
)
MONITOR_USAGE = "*Usage:* `/monitor` shows the monitoring dashboard."
ORCHESTRATOR_USAGE = "*Usage:* `/orchestrator` shows the task queue and the running workers."
# The help (`/workflow` or `/workflow help`) names the other commands too.
OTHER_COMMANDS = (
    "Also: `/monitor` shows the monitoring dashboard (tasks, errors, cost, alerts); "
    "`/orchestrator` shows the task queue and the running workers."
)

# Ids are workflow or approval ids (uuids) or execution names such as ``bug-fix-1a2b3c4d``.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_TEMPLATE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_KEY_VALUE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]{0,63})=(.*)$", re.DOTALL)
MAX_TEXT = 4000  # Slack's own limit on a command's text is about this size


class UsageError(InvalidInput):
    """The command is unknown or its arguments are wrong; the message is the usage."""


class Action(StrEnum):
    LIST = "list"
    START = "start"
    STATUS = "status"
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    SCHEDULE = "schedule"
    SCHEDULES = "schedules"
    UNSCHEDULE = "unschedule"
    AUDIT = "audit"
    HELP = "help"
    REPOS = "repos"
    MONITOR = "monitor"
    ORCHESTRATOR = "orchestrator"
    REMEMBER = "remember"
    MEMORIES = "memories"
    FORGET = "forget"


@dataclass(frozen=True)
class Command:
    """A parsed slash command."""

    action: Action
    template: str | None = None
    target_id: str | None = None  # the workflow (or approval) id the command is about
    input: dict[str, str] = field(default_factory=dict)  # workflow input for ``start``
    comment: str | None = None  # the reason given with approve/reject
    budget_usd: float | None = None  # ``budget=`` with ``start``: the workflow's budget
    schedule: str | None = None  # ``schedule``: cron(...), rate(...) or at(...), checked later
    timezone: str | None = None  # ``schedule``: tz=<IANA zone>
    text: str | None = None  # ``remember``: the fact; ``forget``: the memory's id or text
    team: bool = False  # ``remember --team``: a fact of the Slack team, not only the user's

    @property
    def is_slow(self) -> bool:
        """Commands whose work may outlast Slack's 3 seconds run after the answer."""
        return self.action not in (Action.HELP,)


def parse(command: str, text: str) -> Command:
    """Parse ``/workflow start bug-fix ...`` style input into a Command."""
    name = command.strip().lstrip("/").lower()
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise UsageError(f"That command is too long (at most {MAX_TEXT} characters).")
    problem = validation.unstorable(text)
    if problem is not None:
        # Refused here, before anything is posted: Postgres could not store it later.
        raise UsageError(f"That command contains {problem}; remove it and try again.")
    if name == "monitor":
        if text and text.lower() != "help":
            raise UsageError(MONITOR_USAGE)
        return Command(Action.HELP if text else Action.MONITOR)
    if name == "orchestrator":
        if text and text.lower() != "help":
            raise UsageError(ORCHESTRATOR_USAGE)
        return Command(Action.HELP if text else Action.ORCHESTRATOR)
    if name != "workflow":
        raise UsageError(f"Unknown command `/{name}`. {WORKFLOW_USAGE}")
    return _parse_workflow(text)


def usage_for(command: str) -> str:
    name = command.strip().lstrip("/").lower()
    workflow_help = f"{WORKFLOW_USAGE}\n{OTHER_COMMANDS}"
    return {"monitor": MONITOR_USAGE, "orchestrator": ORCHESTRATOR_USAGE}.get(name, workflow_help)


def _parse_workflow(text: str) -> Command:
    if not text:
        return Command(Action.HELP)
    head, _, rest = text.partition(" ")
    sub = head.lower()
    rest = rest.strip()
    if sub == "help":
        return Command(Action.HELP)
    if sub == "list":
        if rest:
            raise UsageError("`/workflow list` takes no arguments. " + WORKFLOW_USAGE)
        return Command(Action.LIST)
    if sub == "repos":
        if rest:
            raise UsageError("`/workflow repos` takes no arguments. " + WORKFLOW_USAGE)
        return Command(Action.REPOS)
    if sub == "start":
        return _parse_start(rest)
    if sub in ("status", "cancel", "unschedule", "audit"):
        target = _single_id(sub, rest)
        return Command(Action(sub), target_id=target)
    if sub == "schedules":
        if rest:
            raise UsageError("`/workflow schedules` takes no arguments. " + WORKFLOW_USAGE)
        return Command(Action.SCHEDULES)
    if sub == "schedule":
        return _parse_schedule(rest)
    if sub in ("remember", "memories", "forget"):
        return _parse_memory(sub, rest)
    if sub in ("approve", "reject"):
        target, _, comment = rest.partition(" ")
        target = _single_id(sub, target)
        return Command(Action(sub), target_id=target, comment=comment.strip() or None)
    raise UsageError(f"Unknown subcommand `{head}`. {WORKFLOW_USAGE}")


TEAM_FLAG = "--team"


def _parse_memory(sub: str, rest: str) -> Command:
    """``remember [--team] <fact>``, ``memories``, ``forget <memory id or text>``; the fact
    itself is checked when it is stored (length, nothing that looks like a credential)."""
    if sub == "memories":
        if rest:
            raise UsageError("`/workflow memories` takes no arguments. " + WORKFLOW_USAGE)
        return Command(Action.MEMORIES)
    team = False
    if sub == "remember" and rest.split(" ", 1)[0].lower() == TEAM_FLAG:
        team, rest = True, rest[len(TEAM_FLAG) :].strip()
    if not rest:
        what = "a fact: `/workflow remember [--team] <fact>`"
        if sub == "forget":
            what = "a memory's id or text: `/workflow forget <memory id or text>`"
        raise UsageError(f"`/workflow {sub}` needs {what}.")
    return Command(Action(sub), text=rest, team=team)


def _single_id(sub: str, rest: str) -> str:
    parts = rest.split()
    what = "schedule" if sub == "unschedule" else "workflow"
    if len(parts) != 1 or not _ID.match(parts[0]):
        raise UsageError(f"`/workflow {sub}` needs one {what} id: `/workflow {sub} <id>`.")
    return parts[0]


SCHEDULE_USAGE = (
    "`/workflow schedule` needs a template and a schedule, e.g. "
    "`/workflow schedule bug-fix cron(0 9 ? * MON-FRI *) tz=Europe/Paris AccountTrigger NPE`"
    " (also `rate(6 hours)`, `at(2030-01-31T09:00:00)`)."
)
_SCHEDULE = re.compile(r"^(?P<kind>cron|rate|at)\s*\((?P<body>[^()]*)\)", re.IGNORECASE)


def _parse_schedule(rest: str) -> Command:
    """``<template> <cron(...)|rate(...)|at(...)> [tz=<zone>] [input]``; the expression and
    the zone are checked when the schedule is created (with the reason when refused)."""
    template, _, tail = rest.partition(" ")
    template = template.lower()
    if not template:
        raise UsageError(SCHEDULE_USAGE)
    if not _TEMPLATE.match(template):
        raise UsageError(
            f"`{template[:40]}` is not a template name. `/workflow list` shows the templates."
        )
    tail = tail.strip()
    match = _SCHEDULE.match(tail)
    if match is None:
        raise UsageError(SCHEDULE_USAGE)
    expression = f"{match['kind'].lower()}({' '.join(match['body'].split())})"
    tail = tail[match.end() :].strip()
    timezone = None
    if tail.lower().startswith("tz="):
        word, _, tail = tail.partition(" ")
        timezone = word[3:]
    return Command(
        Action.SCHEDULE,
        template=template,
        schedule=expression,
        timezone=timezone,
        input=parse_input(tail),
    )


def _parse_start(rest: str) -> Command:
    if not rest:
        raise UsageError("`/workflow start` needs a template: `/workflow start <template> ...`.")
    template, _, tail = rest.partition(" ")
    template = template.lower()
    if not _TEMPLATE.match(template):
        raise UsageError(
            f"`{template[:40]}` is not a template name. `/workflow list` shows the templates."
        )
    fields = parse_input(tail)
    budget = None
    if "budget" in fields:
        try:
            budget = validation.budget_usd(fields.pop("budget"))
        except InvalidInput as error:
            text = str(error)
            raise UsageError(f"{text[:1].upper()}{text[1:]}.") from None
    return Command(Action.START, template=template, input=fields, budget_usd=budget)


def parse_input(tail: str) -> dict[str, str]:
    """``key=value`` words become fields; any other words become ``request`` (free text).

    ``/workflow start bug-fix AccountTrigger NPE on bulk insert`` gives
    ``{"request": "AccountTrigger NPE on bulk insert"}``; ``target=AccountTrigger org=dev``
    gives ``{"target": "AccountTrigger", "org": "dev"}``. Quotes group words (``note="a b"``).
    ``budget=`` is not input: ``parse`` takes it as the workflow's budget.
    """
    tail = tail.strip()
    if not tail:
        return {}
    try:
        words = shlex.split(tail)
    except ValueError:
        # An unbalanced quote: take the text as it was typed rather than refuse it.
        return {"request": tail}
    fields: dict[str, str] = {}
    free: list[str] = []
    for word in words:
        match = _KEY_VALUE.match(word)
        if match and match.group(1) != "request":
            fields[match.group(1)] = match.group(2)
        else:
            free.append(word)
    if free:
        # Free text keeps the user's own spacing when there were no key=value words.
        fields["request"] = tail if not fields else " ".join(free)
    return fields
