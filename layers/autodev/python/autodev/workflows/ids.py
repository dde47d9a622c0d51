"""The workflow references people type: the full id, the execution name, or its short id.

Slack messages and the CLI show the execution name (``bug-fix-1650cb25``). ``start_workflow``
names an execution ``<template>-<first 8 hex digits of the workflow id>``, so the hex part
(``1650cb25``, the "short id") is the start of the id. An execution started elsewhere keeps
the name it was given (``nightly-review-1``), which names its workflow too. Every call that
takes a workflow id from a person resolves it here, so each of the three forms works
everywhere.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import psycopg

from autodev.db import in_transaction
from autodev.errors import InvalidInput, NotFound

SHORT_ID_LENGTH = 8
_SHORT_ID = re.compile(rf"^[0-9a-f]{{{SHORT_ID_LENGTH}}}$")
_EXECUTION_NAME = re.compile(rf"^[a-z0-9][a-z0-9-]*-[0-9a-f]{{{SHORT_ID_LENGTH}}}$")
# Any other name Step Functions accepts (an execution started outside autodev).
_OTHER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_SHOWN = 60  # characters of a reference quoted back in an error
_LISTED = 5  # candidates an ambiguous short id names


class AmbiguousId(InvalidInput):
    """A short id that more than one workflow starts with."""


@dataclass(frozen=True)
class Reference:
    """What a typed reference is, before looking it up."""

    kind: Literal["id", "execution_name", "short_id"]
    value: str


def short_id(workflow_id: str) -> str:
    """The short id of a workflow id (the hex part of its execution name)."""
    return uuid.UUID(str(workflow_id)).hex[:SHORT_ID_LENGTH]


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def parse_reference(text: str) -> Reference:
    """Classify a reference without the database; NotFound for what none of the forms is."""
    given = str(text or "").strip()
    try:
        return Reference("id", str(uuid.UUID(given)))
    except ValueError:
        pass
    lowered = given.lower()
    if _SHORT_ID.match(lowered):
        return Reference("short_id", lowered)
    if _EXECUTION_NAME.match(lowered):
        return Reference("execution_name", lowered)
    if _OTHER_NAME.match(given):
        return Reference("execution_name", given)
    raise NotFound(f"no workflow {_shown(given)!r}")


def _lookup(conn: psycopg.Connection[Any], reference: Reference) -> list[dict[str, Any]]:
    if reference.kind == "execution_name":
        query = "SELECT id, execution_name FROM workflows WHERE execution_name = %s"
        return conn.execute(query, (reference.value,)).fetchall()
    # The short id is the id's first group: a range of the primary key, read from its index.
    low = f"{reference.value}-0000-0000-0000-000000000000"
    high = f"{reference.value}-ffff-ffff-ffff-ffffffffffff"
    return conn.execute(
        "SELECT id, execution_name FROM workflows WHERE id BETWEEN %s AND %s "
        "ORDER BY created_at DESC LIMIT %s",
        (low, high, _LISTED + 1),
    ).fetchall()


def resolve_workflow_id(text: str, conn: psycopg.Connection[Any] | None = None) -> str:
    """The workflow id (a UUID string) that ``text`` names: the id itself, the execution name
    or the short id. A full id is returned as given (whoever reads the row says if it is
    missing); NotFound when a name or short id matches nothing, AmbiguousId when a short id
    matches more than one workflow (it names them)."""
    reference = parse_reference(text)
    if reference.kind == "id":
        return reference.value
    with in_transaction(conn) as tx:
        rows = _lookup(tx, reference)
    if not rows:
        raise NotFound(f"no workflow {_shown(str(text).strip())!r}")
    if len(rows) > 1:
        names = ", ".join(f"{row['execution_name']} ({row['id']})" for row in rows[:_LISTED])
        more = " and more" if len(rows) > _LISTED else ""
        raise AmbiguousId(
            f"the short id {reference.value} matches more than one workflow: {names}{more}; "
            "give the execution name or the full id"
        )
    return str(rows[0]["id"])
