"""Block Kit views: what people see, and that buttons carry only opaque ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from autodev.slack import views
from autodev.slack.platform import workflow_view

STARTED = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _workflow(status: str = "running", **extra: object) -> views.WorkflowView:
    fields: dict[str, object] = {
        "id": "0b7e8a44-0000-4000-8000-000000000001",
        "template": "deployment",
        "status": status,
        "execution_name": "deployment-0b7e8a44",
        "console_url": "https://console.aws.amazon.com/states/home#/v2/executions/details/arn",
        "current_step": "Deploy to org",
        "steps": (
            views.StepView("Validate deployment", "succeeded"),
            views.StepView("Request approval", "succeeded"),
            views.StepView("Deploy to org", "running"),
            views.StepView("Run smoke tests", "pending"),
        ),
        "started_at": STARTED,
    }
    fields.update(extra)
    return views.WorkflowView(**fields)  # type: ignore[arg-type]


def _text(blocks: list[object]) -> str:
    return json.dumps(views.as_dicts(blocks))  # type: ignore[arg-type]


def test_status_card_shows_steps_current_elapsed_and_console_link() -> None:
    now = STARTED + timedelta(minutes=3, seconds=5)
    text = _text(views.status_card(_workflow(), now))  # type: ignore[arg-type]
    assert ":white_check_mark: Validate deployment" in text
    assert ":hourglass_flowing_sand: Deploy to org \\u2190 current" in text
    assert ":white_circle: Run smoke tests" in text
    assert "elapsed 3m 05s" in text
    assert "<https://console.aws.amazon.com/states/home" in text
    assert '"action_id": "workflow_cancel"' in text
    assert '"action_id": "workflow_retry"' not in text


def test_finished_card_offers_retry_when_failed() -> None:
    failed = _workflow("failed", error="Deploy to org failed", finished_at=STARTED)
    text = _text(views.status_card(failed))  # type: ignore[arg-type]
    assert '"action_id": "workflow_retry"' in text
    assert '"action_id": "workflow_cancel"' not in text
    assert "Deploy to org failed" in text


def test_approval_buttons_carry_the_approval_id_only() -> None:
    blocks = views.as_dicts(views.approval_request("apr_opaque123", _workflow(), "Deploy?"))
    buttons = [e for b in blocks for e in b.get("elements", []) if e.get("type") == "button"]
    values = {b["action_id"]: b["value"] for b in buttons}
    assert values[views.APPROVE] == values[views.REJECT] == "apr_opaque123"
    assert values[views.VIEW_DETAILS] == _workflow().id


def test_template_list_and_empty_list() -> None:
    listed = _text(
        views.template_list([views.TemplateView("bug-fix", "Bug Fix", ("Reproduce", "Fix"))])  # type: ignore[arg-type]
    )
    assert "*bug-fix*" in listed
    assert "Reproduce \\u2192 Fix" in listed
    assert "No workflow templates" in _text(views.template_list([]))  # type: ignore[arg-type]


def test_long_summaries_are_clipped_to_slack_limits() -> None:
    blocks = views.result_message(_workflow("succeeded", summary="x" * 10_000))
    for block in views.as_dicts(blocks):
        text = block.get("text")
        if isinstance(text, dict):
            assert len(text["text"]) <= 3000


def test_workflow_view_adapts_a_mapping() -> None:
    view = workflow_view(
        {
            "id": "w1",
            "template": "bug-fix",
            "status": "succeeded",
            "output": {"summary": "fixed the NPE"},
            "steps": [{"name": "Reproduce the bug", "status": "succeeded"}],
            "cost_usd": "0.42",
            "created_at": STARTED.isoformat(),
        }
    )
    assert view.summary == "fixed the NPE"
    assert view.steps == (views.StepView("Reproduce the bug", "succeeded"),)
    assert view.cost_usd == 0.42
    assert view.started_at == STARTED


def test_status_card_lists_result_deliveries_with_a_dead_ones_reason() -> None:
    deliveries = (
        views.DeliveryView("slack", "CDEPLOYS", "delivered", 1, 10),
        views.DeliveryView(
            "webhook", "https://ci.example.com/hook", "pending", 2, 10, "answered 503"
        ),
        views.DeliveryView("webhook", "https://10.0.0.5/hook", "dead", 1, 10, "private address"),
    )
    text = _text(views.status_card(_workflow("succeeded", deliveries=deliveries)))  # type: ignore[arg-type]
    assert "*Result deliveries*" in text
    assert ":white_check_mark: slack \\u2192 CDEPLOYS: delivered (1/10 attempts)" in text
    assert "pending (2/10 attempts) \\u2014 last error: answered 503" in text
    assert ":x: webhook \\u2192 https://10.0.0.5/hook: dead (1/10 attempts)" in text
    assert "gave up: private address" in text
    assert "Result deliveries" not in _text(views.status_card(_workflow()))  # type: ignore[arg-type]
