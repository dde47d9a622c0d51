"""`autodev workflow list|start|status|result|approve|reject|cancel|schedule|schedules|unschedule`.

Every command first points itself at the background local stack (``autodev local up``) when
one runs and no AWS endpoint is set; otherwise it talks to AWS as configured.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from autodev.cli.output import console, escape, print_table
from autodev.config import settings_or_exit
from autodev.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from autodev.callbacks import Delivery

WORKFLOW_REF_HELP = (
    "The workflow: its id, execution name (bug-fix-1650cb25) or short id (1650cb25)."
)
RESULT_REF_HELP = "The workflow (id, execution name or short id), task or result id."
APPROVAL_REF_HELP = "The approval id, or the workflow (id, execution name or short id) waiting."

workflow_app = typer.Typer(
    help="Start, follow, approve and cancel workflows.", no_args_is_help=True
)

AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="On the local stack only: act as someone else (e.g. a Slack user id) instead of"
        " cli:<login>. In AWS you are your IAM principal.",
    ),
]


def _ready() -> None:
    settings_or_exit()
    from autodev.local import activate

    activate()


def _me(given: str | None, *, deciding: bool = False) -> str:
    from autodev.cli.identity import acting_as

    return acting_as(given, deciding=deciding)


def _json_object(text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise InvalidInput(f"{option} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise InvalidInput(f'{option} must be a JSON object, like \'{{"target": "X"}}\'')
    return value


def _link_name(url: str) -> str:
    from autodev.workflows.sfn import link_label

    return "console:   " if link_label(url) == "AWS console" else "see it:    "


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%H:%M:%S") if moment else ""


def _took(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    seconds = (end - start).total_seconds()
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


@workflow_app.command("list")
def list_command() -> None:
    """List the workflow templates."""
    settings_or_exit()
    from autodev.workflows import list_templates

    templates = list_templates()
    print_table(
        "workflow templates",
        # The title is in the description below; without it, an 80-column terminal has room
        # for the input names whole.
        ("template", "input (* required)", "priority", "budget"),
        (
            (
                t.name,
                # One input per line: a narrow terminal wraps the column, not the names.
                "\n".join(
                    name + ("*" if name in t.input_schema.get("required", ()) else "")
                    for name in t.input_schema.get("properties", {})
                ),
                t.default_priority,
                f"${t.default_budget_usd:.2f}",
            )
            for t in templates
        ),
    )
    for t in templates:
        console.print(f"[bold]{t.name}[/bold] ({escape(t.title)}): {escape(t.description)}")


@workflow_app.command("start")
def start_command(
    template: Annotated[str, typer.Argument(help="The template, e.g. bug-fix.")],
    input_json: Annotated[
        str | None,
        typer.Option("--input", help='The input as a JSON object, e.g. \'{"target": "X"}\'.'),
    ] = None,
    priority: Annotated[
        str | None, typer.Option(help="critical, high, normal or low (default: the template's).")
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option(help="Budget in US dollars (above 0, at most WORKFLOW_MAX_BUDGET_USD)."),
    ] = None,
    key: Annotated[
        str | None, typer.Option(help="A client key: starting twice with it starts once.")
    ] = None,
    webhook: Annotated[
        str | None,
        typer.Option(help="POST the result to this https URL, signed (Standard Webhooks)."),
    ] = None,
    webhook_secret: Annotated[
        str | None,
        typer.Option(
            help="The webhook's secret, whsec_<base64 of 24-64 bytes>; generated if omitted."
        ),
    ] = None,
    as_user: AsOption = None,
) -> None:
    """Start a workflow and print its id and where to follow it."""
    from autodev import validation

    given = _json_object(input_json, "--input") if input_json is not None else {}
    # Refused before anything is asked of AWS or written (StartRequest checks them again).
    validation.check_strings(given, "--input")
    if key is not None:
        validation.check_text(key, "--key")
    if budget is not None:
        settings_or_exit()
        validation.budget_usd(budget)
    if webhook_secret is not None and webhook is None:
        raise InvalidInput("--webhook-secret needs --webhook URL")
    _ready()
    from autodev.workflows import StartRequest, start_workflow
    from autodev.workflows.webhooks import webhook_spec

    callback, secret, generated = (
        webhook_spec(webhook, webhook_secret) if webhook is not None else (None, None, False)
    )
    started = start_workflow(
        StartRequest(
            template,
            given,
            _me(as_user),
            callback=callback,
            client_key=key,
            budget_usd=budget,
            priority=priority,
            started_by="cli",
        )
    )
    verb = "started" if started.created else "already started with this key:"
    console.print(f"{verb} {started.template} workflow {started.id}")
    console.print(f"execution: {started.execution_name}")
    if webhook is not None and not started.created:
        console.print("webhook:   not registered (this key started the workflow before)")
    elif webhook is not None:
        console.print(
            f"webhook:   {webhook} gets the result, signed (Standard Webhooks)", markup=False
        )
        if generated:
            # Shown this once: autodev keeps it only to sign with.
            console.print(
                f"secret:    {secret} (shown once: verify the signatures with it)", markup=False
            )
    if started.console_url:
        console.print(f"{_link_name(started.console_url)}{started.console_url}", soft_wrap=True)
    console.print(f"follow:    autodev workflow status {started.id}")


@workflow_app.command("status")
def status_command(
    workflow_id: Annotated[str, typer.Argument(help=WORKFLOW_REF_HELP)],
) -> None:
    """Show a workflow's state and its steps."""
    _ready()
    from autodev.workflows import get_workflow_status

    status = get_workflow_status(workflow_id)
    console.print(f"workflow {status.id} ({status.template}): [bold]{status.status}[/bold]")
    if status.current_step:
        console.print(f"current step: {status.current_step}", markup=False)
    if status.error or status.cause:
        console.print(f"error: {status.error or ''} {status.cause or ''}".rstrip(), markup=False)
    console.print(
        f"requested by {status.requested_by} (from {status.started_by});"
        f" cost ${status.cost_usd:.4f}"
        + (f" of ${status.budget_usd:.2f}" if status.budget_usd is not None else "")
    )
    for approval in status.approvals:
        if approval.status == "pending":
            console.print(
                f"waiting for approval {approval.id}: autodev workflow approve {approval.id}",
                soft_wrap=True,
            )
    print_table(
        f"steps of {status.execution_name}",
        ("step", "type", "status", "started", "took", "error"),
        (
            (
                s.name,
                s.state_type,
                s.status,
                _when(s.started_at),
                _took(s.started_at, s.ended_at),
                ": ".join(filter(None, (s.error, (s.cause or "")[:80]))),
            )
            for s in status.steps
        ),
    )
    if status.console_url:
        console.print(f"{_link_name(status.console_url)}{status.console_url}", soft_wrap=True)
    from autodev.callbacks import delivery_status

    _print_deliveries(delivery_status(status.id))


def _print_deliveries(deliveries: list[Delivery]) -> None:
    """Where the result went; a dead delivery shows why it gave up."""
    if not deliveries:
        return
    print_table(
        "result deliveries",
        ("channel", "destination", "status", "attempts", "last error"),
        (
            (
                d.channel,
                d.destination,
                d.status,
                f"{d.attempts}/{d.max_attempts}",
                "" if d.status == "delivered" else d.last_error or "",
            )
            for d in deliveries
        ),
    )


@workflow_app.command("result")
def result_command(
    result_id: Annotated[str, typer.Argument(help=RESULT_REF_HELP)],
) -> None:
    """Print the cached result of a workflow (or task), its status and its deliveries."""
    _ready()
    from autodev.callbacks import Artifact, get_result
    from autodev.workflows import resolve_workflow_id

    # A workflow's execution name or short id becomes its id; task and result ids (UUIDs)
    # pass through unchanged, and what is no workflow reference get_result explains.
    with contextlib.suppress(NotFound):
        result_id = resolve_workflow_id(result_id)
    found = get_result(result_id)
    if isinstance(found, Artifact):
        console.print(
            f"artifact {found.id} ({found.name}, {found.content_type},"
            f" {found.size_bytes} bytes) of {found.target_kind} {found.target_id}",
            soft_wrap=True,
        )
        console.print(found.body or "", markup=False, soft_wrap=True)
        return
    console.print(
        f"result {found.id} of {found.target_kind} {found.target_id}:"
        f" [bold]{found.status}[/bold] (at {found.created_at})",
        soft_wrap=True,
    )
    _print_changes(found.result)
    console.print_json(json.dumps(found.result, default=str))
    _print_deliveries(found.deliveries)


def _print_changes(result: Any) -> None:
    """Where a workflow's changes are: its branch, pull request and diff (autodev.repos)."""
    if not isinstance(result, dict):
        return
    for label, key in (
        ("repository", "repository"),
        ("branch", "branch"),
        ("pull request", "pull_request_url"),
        ("diff", "diff_url"),
        ("no pull request", "pull_request_error"),
    ):
        if result.get(key):
            console.print(f"{label + ':':<14} {result[key]}", markup=False, soft_wrap=True)
    for conflict in result.get("conflicts") or []:
        files = ", ".join(conflict.get("files") or [])
        console.print(
            f"not merged:    {conflict.get('step')} conflicts in {files}; "
            f"its changes are on {conflict.get('branch')}",
            markup=False,
            soft_wrap=True,
        )


def _answer(approval_id: str, approved: bool, comment: str | None, as_user: str | None) -> None:
    _ready()
    from autodev.workflows import approval_to_answer, respond_to_approval

    me = _me(as_user, deciding=True)
    decided = respond_to_approval(approval_to_answer(approval_id), me, approved, comment)
    console.print(f"{decided.status} (approval {decided.id}, workflow {decided.workflow_id})")


@workflow_app.command("approve")
def approve_command(
    approval_id: Annotated[str, typer.Argument(help=APPROVAL_REF_HELP)],
    comment: Annotated[str | None, typer.Option(help="Why.")] = None,
    as_user: AsOption = None,
) -> None:
    """Approve a waiting step (you must be an approver: APPROVERS or APPROVER_GROUP)."""
    _answer(approval_id, True, comment, as_user)


@workflow_app.command("reject")
def reject_command(
    approval_id: Annotated[str, typer.Argument(help=APPROVAL_REF_HELP)],
    comment: Annotated[str, typer.Option(help="Why (shown to the requester).")],
    as_user: AsOption = None,
) -> None:
    """Reject a waiting step; the workflow reports the rejection."""
    _answer(approval_id, False, comment, as_user)


@workflow_app.command("cancel")
def cancel_command(
    workflow_id: Annotated[str, typer.Argument(help=WORKFLOW_REF_HELP)],
    as_user: AsOption = None,
) -> None:
    """Stop a running workflow and cancel its queued tasks and approvals (its requester, an
    approver or an admin)."""
    _ready()
    from autodev.workflows import cancel_workflow

    cancelled = cancel_workflow(workflow_id, _me(as_user, deciding=True))
    console.print(f"workflow {cancelled.id} {cancelled.status}")


@workflow_app.command("schedule")
def schedule_command(
    template: Annotated[str, typer.Argument(help="The template, e.g. bug-fix.")],
    expression: Annotated[
        str,
        typer.Argument(
            help="cron(min hour day-of-month month day-of-week year), rate(N minutes|hours|days)"
            " or at(yyyy-mm-ddThh:mm:ss), as EventBridge Scheduler reads them;"
            " e.g. 'cron(0 9 ? * MON-FRI *)'."
        ),
    ],
    input_json: Annotated[
        str | None,
        typer.Option("--input", help='The input as a JSON object, e.g. \'{"target": "X"}\'.'),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            "--tz",
            help="IANA time zone of cron and at (default AUTODEV_SCHEDULE_TIMEZONE).",
        ),
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="Slack channel (id) where runs are announced.")
    ] = None,
    as_user: AsOption = None,
) -> None:
    """Run a workflow on a schedule (an EventBridge Scheduler schedule)."""
    given = _json_object(input_json, "--input") if input_json is not None else {}
    _ready()
    from autodev.schedules import ScheduleRequest, schedule_workflow

    scheduled = schedule_workflow(
        ScheduleRequest(
            template, expression, given, _me(as_user), timezone=timezone, slack_channel=channel
        )
    )
    job = scheduled.job
    upcoming = scheduled.next_run()
    console.print(f"scheduled {job.template} {scheduled.expression.describe()} as {job.name}")
    console.print(f"id:       {job.id}")
    console.print(f"next run: {upcoming.isoformat(timespec='seconds') if upcoming else 'never'}")
    console.print(f"remove:   autodev workflow unschedule {job.name}")


@workflow_app.command("schedules")
def schedules_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print them as JSON.")] = False,
) -> None:
    """List the schedules and when each runs next."""
    _ready()
    from autodev.schedules import list_schedules

    found = list_schedules()
    if as_json:
        console.print_json(
            json.dumps(
                [
                    {
                        **s.job.to_json(),
                        "next_run": (n.isoformat() if (n := s.next_run()) else None),
                    }
                    for s in found
                ],
                default=str,
            )
        )
        return
    print_table(
        "schedules",
        ("name", "template", "schedule", "next run (UTC)", "runs", "by", "input"),
        (
            (
                s.job.name,
                s.job.template,
                s.expression.describe(),
                (n.strftime("%Y-%m-%d %H:%M") if (n := s.next_run()) else "done"),
                s.job.runs,
                s.job.created_by,
                json.dumps(s.job.input, sort_keys=True)[:60] if s.job.input else "",
            )
            for s in found
        ),
    )


@workflow_app.command("unschedule")
def unschedule_command(
    schedule_id: Annotated[str, typer.Argument(help="The schedule: its id, name or short id.")],
    as_user: AsOption = None,
) -> None:
    """Remove a schedule (its creator, or an approver)."""
    _ready()
    from autodev.schedules import unschedule

    removed = unschedule(schedule_id, _me(as_user))
    console.print(f"removed the schedule {removed.name} ({removed.template})")


def register(app: typer.Typer) -> None:
    app.add_typer(workflow_app, name="workflow")
