"""Turn a Step Functions execution history into one record per state that ran."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from autodev.workflows.models import StepRecord

# Execution statuses after which a state still open did not finish on its own.
_STOPPED = {"ABORTED": "stopped", "FAILED": "failed", "TIMED_OUT": "failed"}


@dataclass
class _Open:
    name: str
    state_type: str
    started_at: datetime | None
    ended_at: datetime | None = None
    exited: bool = False
    error: str | None = None
    cause: str | None = None


def _details(event: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def steps_from_history(
    events: Iterable[Mapping[str, Any]], execution_status: str
) -> list[StepRecord]:
    """One StepRecord per state entered, in the order they started.

    Events are linked by ``previousEventId``; an exit or a failure belongs to the state entry
    found by walking that chain back, which keeps concurrent Map iterations and Parallel
    branches with equal state names apart.
    """
    by_id: dict[int, Mapping[str, Any]] = {}
    records: dict[int, _Open] = {}
    for event in sorted(events, key=lambda e: int(e["id"])):
        event_id = int(event["id"])
        by_id[event_id] = event
        kind = str(event["type"])
        details = _details(event)
        if kind.endswith("StateEntered"):
            records[event_id] = _Open(
                name=str(details.get("name", "?")),
                state_type=kind.removesuffix("StateEntered"),
                started_at=event.get("timestamp"),
            )
            if kind in {"FailStateEntered", "SucceedStateEntered"}:
                records[event_id].ended_at = event.get("timestamp")
            continue
        entry = _entry_for(event, by_id, records)
        if entry is None:
            continue
        if kind.endswith("StateExited"):
            entry.exited = True
            entry.ended_at = event.get("timestamp")
        elif (kind.endswith("Failed") or kind.endswith("TimedOut")) and (
            "error" in details or "cause" in details
        ):
            entry.error = _opt(details.get("error")) or kind
            entry.cause = _opt(details.get("cause"))
    return [_finish(record, execution_status) for _, record in sorted(records.items())]


def _entry_for(
    event: Mapping[str, Any], by_id: Mapping[int, Mapping[str, Any]], records: Mapping[int, _Open]
) -> _Open | None:
    previous = event.get("previousEventId")
    seen = 0
    while previous and seen < 10_000:
        previous_id = int(previous)
        if previous_id in records:
            record = records[previous_id]
            # An exit closes its own entry only; a closed entry's chain leads further back.
            if not record.exited:
                return record
        prior = by_id.get(previous_id)
        if prior is None:
            return None
        previous = prior.get("previousEventId")
        seen += 1
    return None


def _finish(record: _Open, execution_status: str) -> StepRecord:
    if record.state_type == "Fail":
        status = "failed"
    elif record.state_type == "Succeed" or (record.exited and record.error is None):
        status = "succeeded"
    elif record.exited:
        status = "caught"  # it failed and a Catch took the workflow to its failure path
    else:
        status = _STOPPED.get(execution_status, "running")
    if status == "stopped":
        # Whatever the step reported while being stopped is not its outcome.
        record.error = record.cause = None
    return StepRecord(
        name=record.name,
        state_type=record.state_type,
        status=status,
        started_at=record.started_at,
        ended_at=record.ended_at,
        error=record.error,
        cause=record.cause,
    )


def current_step(steps: Iterable[StepRecord]) -> str | None:
    """The latest running step that does work (a Task), else the latest running state."""
    running = [s for s in steps if s.status == "running"]
    tasks = [s for s in running if s.state_type == "Task"]
    chosen = tasks or running
    return chosen[-1].name if chosen else None


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
