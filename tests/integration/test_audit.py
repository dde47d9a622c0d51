"""The audit trail on a real database."""

from __future__ import annotations

from autodev import audit
from autodev.db import connection


def test_record_and_read_back(database: str) -> None:
    first = audit.record("U1", "workflow.start", "wf-1", {"template": "bug-fix"})
    second = audit.record("U2", "approval.approve", "wf-1", {"comment": "ok"})
    assert second > first
    events = audit.recent(target="wf-1")
    assert [e["action"] for e in events] == ["approval.approve", "workflow.start"]
    assert events[1]["detail"] == {"template": "bug-fix"}


def test_record_inside_a_caller_transaction_rolls_back_with_it(database: str) -> None:
    class Boom(Exception):
        pass

    try:
        with connection() as conn:
            audit.record("U1", "workflow.start", "wf-2", conn=conn)
            raise Boom
    except Boom:
        pass
    assert audit.recent(target="wf-2") == []
