"""Block Kit views: what people see, and that buttons carry only opaque ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from autodev.salesforce.sf_results import DeployOutcome
from autodev.slack import views
from autodev.slack.platform import approval_view, workflow_view
from autodev.workflows.approval_summary import build_summary
from autodev.workflows.models import Approval

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


SCRIPTED_VALIDATION = {
    "passed": True,
    "details": "[scripted model] 3 Apex component(s) and their metadata are well-formed, with 1"
    " test class(es)",
    "problems": [],
    "components": [
        "force-app/main/default/classes/AccountService.cls",
        "force-app/main/default/classes/AccountServiceTest.cls",
        "force-app/main/default/triggers/AccountTrigger.trigger",
    ],
    "test_classes": ["AccountServiceTest"],
    "summary": "[scripted model] Validation passed ...\n```json\n{...}\n```",
    "usage": {"input_tokens": 1200},
    "workspace": "/tmp/autodev/workspaces/abc",
    "scripted": True,
}


def _approval(steps: dict[str, object], **decided: object) -> Approval:
    summary = build_summary(
        question="Deploy force-app to staging (tests: RunLocalTests)?",
        workflow_id="0b7e8a44-0000-4000-8000-000000000001",
        template="deployment",
        workflow_input={
            "target_org": "staging",
            "source": "force-app",
            "test_level": "RunLocalTests",
        },
        steps=steps,
        execution_name="deployment-0b7e8a44",
        requested_by="UREQUESTER",
        details_url="http://127.0.0.1:5000/executions/deployment-0b7e8a44",
    )
    fields: dict[str, object] = {
        "id": "apr_opaque123",
        "workflow_id": summary.workflow_id,
        "step_name": "Request approval",
        "message": summary.question,
        "status": "pending",
        "requested_at": STARTED,
        "expires_at": STARTED + timedelta(days=1),
        "summary": summary,
        "slack_channel": "C1",
        "slack_ts": "1.2",
    }
    fields.update(decided)
    return Approval(**fields)  # type: ignore[arg-type]


def test_the_approval_card_says_what_will_be_deployed_and_how_the_validation_went() -> None:
    view = approval_view(_approval({"validate": SCRIPTED_VALIDATION}), ("UAPPROVER",))
    blocks = views.as_dicts(views.approval_card(view))
    text = _text(views.approval_card(view))  # type: ignore[arg-type]
    for shown in (
        "Approval needed: deployment to staging",
        "<@UREQUESTER> asks to deploy `force-app` to *staging* with test level *RunLocalTests*",
        "*Target org*\\nstaging",
        "*Expires*\\n2026-01-02 12:00 UTC",
        ":white_check_mark: *Validation passed* \\u2014 3 Apex component(s)",
        "3 components \\u00b7 0 problems \\u00b7 1 test class",
        "scripted model: only the project's metadata was checked",
        "`force-app/main/default/classes/AccountService.cls`",
        "<http://127.0.0.1:5000/executions/deployment-0b7e8a44|execution on the local page>",
        "waiting for <@UAPPROVER>",
    ):
        assert shown in text, shown
    # None of the step's raw output: no JSON, usage or workspace path.
    for hidden in ("```", "input_tokens", "/tmp/autodev", "[scripted model]"):
        assert hidden not in text, hidden
    buttons = [e for b in blocks for e in b.get("elements", []) if e.get("type") == "button"]
    values = {b["action_id"]: b["value"] for b in buttons}
    assert values[views.APPROVE] == values[views.REJECT] == "apr_opaque123"
    assert values[views.VIEW_DETAILS] == "0b7e8a44-0000-4000-8000-000000000001"


def test_a_typed_sf_validation_fills_the_same_card() -> None:
    outcome = DeployOutcome.failed_validation(
        "0Af000000000001",
        "Error in AccountService - Variable does not exist: acct (12:5)\n"
        "AccountServiceTest.testBulk - System.AssertException: expected 200",
    )
    view = approval_view(_approval({"validate": {"deploy_outcome": outcome.model_dump()}}))
    text = _text(views.approval_card(view))  # type: ignore[arg-type]
    assert ":x: *Validation failed*" in text
    assert "AccountService:12: Variable does not exist: acct" in text
    assert "AccountServiceTest.testBulk: System.AssertException" in text
    assert "validated against the org (deploy id `0Af000000000001`)" in text


def test_a_closed_card_shows_who_decided_when_and_has_no_buttons() -> None:
    decided = STARTED + timedelta(hours=2, minutes=5)
    for status, who, expected in (
        ("approved", "UAPPROVER", "*Approved* by <@UAPPROVER> at 2026-01-01 14:05 UTC"),
        ("rejected", "cli:alice", "*Rejected* by `cli:alice` at 2026-01-01 14:05 UTC"),
        ("expired", None, "*Expired* at 2026-01-01 14:05 UTC: nobody answered in time"),
        ("cancelled", "UOPS", "*Cancelled* by <@UOPS> at 2026-01-01 14:05 UTC"),
    ):
        closed = _approval(
            {"validate": SCRIPTED_VALIDATION},
            status=status,
            decided_by=who,
            decided_at=decided,
            comment="ship it" if status == "approved" else None,
        )
        blocks = views.as_dicts(views.approval_card(approval_view(closed)))
        text = json.dumps(blocks)
        assert expected in text, (status, text)
        assert not [b for b in blocks if b["type"] == "actions"], status
        assert "Validation passed" in text  # what was decided on stays readable
    assert "\\u201cship it\\u201d" in json.dumps(
        views.as_dicts(
            views.approval_card(
                approval_view(
                    _approval(
                        {},
                        status="approved",
                        decided_by="U1",
                        decided_at=decided,
                        comment="ship it",
                    )
                )
            )
        )
    )


def test_the_status_line_leaves_out_the_answers_json_block() -> None:
    from autodev.progress.render import status_line

    answer = '[scripted model] Validation passed: 3 components.\n\n```json\n{"passed": true}\n```'
    assert status_line(answer) == "_[scripted model] Validation passed: 3 components._"
    assert status_line("Reading `AccountService.cls`") == "Reading `AccountService.cls`"
    assert status_line("```json\n{}\n```") == ""


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
