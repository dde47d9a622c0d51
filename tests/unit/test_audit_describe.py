"""The audit trail in words: each lifecycle event reads as who did what."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from autodev.audit import AuditEvent
from autodev.slack.audit_views import trail

WHEN = datetime(2025, 1, 2, 9, 30, tzinfo=UTC)


def _event(action: str, detail: dict[str, Any], actor: str = "U123") -> AuditEvent:
    return AuditEvent(1, WHEN, actor, action, "wf-1", detail)


@pytest.mark.parametrize(
    ("action", "detail", "words"),
    [
        (
            "workflow.started",
            {"template": "bug-fix", "execution_name": "bug-fix-1a2b3c4d"},
            "started bug-fix as bug-fix-1a2b3c4d",
        ),
        (
            "workflow.started",
            {
                "template": "bug-fix",
                "execution_name": "f00d",
                "schedule": "bug-fix-9f8e7d6c",
                "scheduled_by": "U9",
            },
            "started bug-fix as f00d (scheduled run of bug-fix-9f8e7d6c, set up by U9)",
        ),
        ("approval.requested", {"step": "Request approval"}, "asked for approval at Request"),
        ("approval.approved", {"comment": "ship it"}, "approved: ship it"),
        ("approval.rejected", {"comment": None}, "rejected"),
        ("workflow.cancelled", {"tasks_cancelled": 2}, "cancelled it (2 task(s) stopped)"),
        (
            "workflow.finished",
            {"status": "failed", "error": "VerificationFailed"},
            "recorded the end: failed (VerificationFailed)",
        ),
        (
            "schedule.created",
            {
                "template": "code-review",
                "expression": "rate(1 day)",
                "timezone": "UTC",
                "name": "code-review-0a1b2c3d",
            },
            "scheduled code-review rate(1 day) UTC as code-review-0a1b2c3d",
        ),
        ("schedule.deleted", {"name": "code-review-0a1b2c3d"}, "removed the schedule code-review"),
        ("slack.thread_message", {"text": "why?"}, "slack.thread_message (text=why?)"),
        # A detail missing what its words need falls back to the raw action, never raises.
        ("workflow.started", {"template": "bug-fix"}, "workflow.started (template=bug-fix)"),
    ],
)
def test_each_event_reads_as_who_did_what(action: str, detail: dict[str, Any], words: str) -> None:
    assert _event(action, detail).describe().startswith(words)


def test_the_slack_trail_mentions_people_and_names_others_as_text() -> None:
    text, blocks = trail(
        "bug-fix bug-fix-1a2b3c4d",
        [
            _event("workflow.started", {"template": "bug-fix", "execution_name": "x"}, "U123"),
            _event("approval.approved", {}, "slack:UAPPROVER"),
            _event("workflow.finished", {"status": "succeeded"}, "stepfunctions"),
        ],
    )
    assert text == "Audit trail of bug-fix bug-fix-1a2b3c4d: 3 event(s)"
    shown = str([block.to_dict() for block in blocks])
    assert "<@U123> started bug-fix as x" in shown
    assert "<@UAPPROVER> approved" in shown
    assert "`stepfunctions` recorded the end: succeeded" in shown
    assert "`2025-01-02 09:30:00`" in shown
