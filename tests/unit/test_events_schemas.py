"""The event schemas: documented, validated, and strict about their fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from autodev import events
from autodev.errors import InvalidInput

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_every_event_and_field_is_documented() -> None:
    text = DOC.read_text()
    for detail_type, model in events.SCHEMAS.items():
        assert f"## `{detail_type}`" in text
        for name in model.model_fields:
            assert f"`{name}`" in text, f"{detail_type}.{name} is not in docs/events.md"


def test_the_spec_events_are_the_schemas() -> None:
    assert {
        "task:completed",
        "task:failed",
        "workflow:completed",
        "approval:requested",
        "progress:updated",
        "progress:completed",
        "alert",
    } == events.EVENT_TYPES


def test_an_entry_is_validated_and_carries_an_event_id() -> None:
    item = events.entry("alert", {"alert_type": "queue", "severity": "warning", "message": "m"})
    assert item["Source"] == "autodev"
    assert item["DetailType"] == "alert"
    assert '"event_id"' in item["Detail"]
    with pytest.raises(InvalidInput, match="workflow_id"):
        events.entry("workflow:completed", {"status": "succeeded"})
    with pytest.raises(InvalidInput, match="percent"):
        events.entry(
            "progress:updated",
            {"task_id": "t", "task_type": "x", "percent": 140, "stage_index": 0, "stage_count": 1},
        )
