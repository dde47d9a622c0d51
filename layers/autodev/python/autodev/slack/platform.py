"""The one place the Slack module calls the rest of autodev (workflows, orchestrator, monitor).

Everything here runs in the Slack worker, after Slack has had its answer, so the imports are
lazy: the request path never pays for them. Results are turned into the neutral views of
``autodev.slack.views``; if another module's result shape changes, only this file changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from autodev.errors import NotFound
from autodev.slack.repositories import RepositoryView
from autodev.slack.views import (
    ApprovalView,
    DeliveryView,
    StepView,
    TemplateView,
    ValidationView,
    WorkflowView,
    moment,
    person,
)

if TYPE_CHECKING:
    from autodev.audit import AuditEvent
    from autodev.conversations import Conversation, Intent, Memory, Reply
    from autodev.monitoring import Dashboard
    from autodev.schedules import Scheduled, ScheduledJob
    from autodev.workflows import Approval


@dataclass(frozen=True)
class Started:
    workflow: WorkflowView
    created: bool  # False: this Slack request had already started it (a retried delivery)


@dataclass(frozen=True)
class Decision:
    approval_id: str
    workflow_id: str | None
    approved: bool
    approver: str
    comment: str | None


def _get(source: Any, name: str, default: Any = None) -> Any:
    if isinstance(source, Mapping):
        return source.get(name, default)
    return getattr(source, name, default)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _steps(raw: Any) -> tuple[StepView, ...]:
    steps: list[StepView] = []
    for item in raw or ():
        if isinstance(item, str):
            steps.append(StepView(item))
        else:
            name, state = _get(item, "name", "?"), _get(item, "status", "pending")
            steps.append(StepView(str(name), str(state)))
    return tuple(steps)


def _summary(source: Any) -> str | None:
    summary = _get(source, "summary")
    if summary:
        return str(summary)
    output = _get(source, "output")
    if isinstance(output, Mapping):
        for key in ("summary", "report", "message"):
            if output.get(key):
                return str(output[key])
    return None


def workflow_view(source: Any) -> WorkflowView:
    """A WorkflowView from whatever autodev.workflows returns (object or mapping)."""
    cost = _get(source, "cost_usd")
    return WorkflowView(
        id=str(_get(source, "id") or _get(source, "workflow_id") or ""),
        template=str(_get(source, "template", "") or ""),
        status=str(_get(source, "status", "pending") or "pending"),
        execution_name=str(_get(source, "execution_name", "") or ""),
        console_url=_text(_get(source, "console_url")),
        current_step=_text(_get(source, "current_step")),
        steps=_steps(_get(source, "steps")),
        started_at=_time(_get(source, "started_at") or _get(source, "created_at")),
        finished_at=_time(_get(source, "finished_at")),
        summary=_summary(source),
        error=_text(_get(source, "error")),
        cost_usd=float(cost) if cost is not None else None,
        requested_by=_text(_get(source, "requested_by")),
        slack_channel=_text(_get(source, "slack_channel")),
        slack_thread_ts=_text(_get(source, "slack_thread_ts")),
        deliveries=tuple(_get(source, "deliveries") or ()),
    )


def _templates() -> dict[str, Any]:
    from autodev import workflows

    return {str(_get(t, "name")): t for t in workflows.list_templates()}


def _step_names(template: Any) -> tuple[str, ...]:
    return tuple(
        str(_get(s, "state") or _get(s, "name") or s) for s in _get(template, "steps") or ()
    )


def list_templates() -> list[TemplateView]:
    found = []
    for name, template in sorted(_templates().items()):
        title, description = _get(template, "title") or "", _get(template, "description") or ""
        text = f"{title}: {description}" if title and description else title or description
        found.append(TemplateView(name, str(text), _step_names(template)))
    return found


def list_repositories() -> list[RepositoryView]:
    """The repositories workflows can work on (``/workflow repos``)."""
    from autodev import repos

    return [
        RepositoryView(
            name=r.name,
            url=r.url,
            default_branch=r.default_branch,
            provider=r.provider,
            is_default=r.is_default,
            has_credentials=bool(r.credentials_secret_arn),
        )
        for r in repos.list_repositories()
    ]


def template_names() -> set[str]:
    return set(_templates())


def _with_free_text(template: str, workflow_input: dict[str, Any]) -> dict[str, Any]:
    """Free text typed after the template name fills the template's free-text field."""
    if "request" not in workflow_input:
        return workflow_input
    field = _get(_templates().get(template), "free_text_field")
    if not field or field == "request" or field in workflow_input:
        return workflow_input
    moved = dict(workflow_input)
    moved[str(field)] = moved.pop("request")
    return moved


def check_start(template: str, workflow_input: dict[str, Any]) -> None:
    """Raise InvalidInput (or NotFound) for a start that would be refused, before anything is
    posted; what ``start`` would run is checked the same way."""
    from autodev import workflows

    workflows.get_template(template).validate_input(_with_free_text(template, workflow_input))


def start(
    template: str,
    workflow_input: dict[str, Any],
    requested_by: str,
    *,
    client_key: str,
    channel: str | None,
    thread_ts: str | None,
    budget_usd: float | None = None,
    status_ts: str | None = None,
    opening_thread: Callable[[], str | None] | None = None,
    worker_asked: bool = False,
) -> Started:
    """Start a workflow; with a channel, its result goes to ``thread_ts``'s thread and its
    live status is the message ``status_ts`` (default: the thread's root).

    With ``opening_thread`` (no ``thread_ts``), the thread in ``channel`` is being opened while
    the start is checked: once the checks pass, the workflow waits for the thread's root (the
    call answers its ts, None when none could be posted) and is recorded with it, or without a
    thread. ``worker_asked``: see ``StartRequest``."""
    from autodev import workflows

    def slack_fields(ts: str | None) -> dict[str, Any]:
        # The result goes to the thread as the one result message (start_workflow registers
        # the callback with the workflow); the thread's root becomes the live status message.
        if not channel or (opening_thread is not None and not ts):
            return {}
        return {
            "callback": {"type": "slack", "channel": channel, "thread_ts": ts},
            "slack_channel": channel,
            "slack_thread_ts": ts,
            "slack_status_ts": status_ts or ts,
        }

    attach: Callable[[workflows.StartRequest], workflows.StartRequest] | None = None
    if opening_thread is not None:
        waiting_for = opening_thread

        def attach(request: workflows.StartRequest) -> workflows.StartRequest:
            return dataclasses.replace(request, **slack_fields(waiting_for()))

    result = workflows.start_workflow(
        workflows.StartRequest(
            template,
            _with_free_text(template, workflow_input),
            requested_by,
            client_key=client_key,
            budget_usd=budget_usd,
            started_by="slack",
            worker_asked=worker_asked,
            **(slack_fields(thread_ts) if opening_thread is None else {}),
        ),
        attach_thread=attach,
    )
    created = bool(_get(result, "created", True))
    try:
        # A workflow started now has no steps to read from its execution yet (every one is
        # pending): the row says all there is, without asking Step Functions.
        view = status(str(_get(result, "id")), read_execution=not created)
    except NotFound:
        view = workflow_view(result)
    if not view.console_url and _get(result, "console_url"):
        view = workflow_view({**_as_dict(view), "console_url": _get(result, "console_url")})
    return Started(view, created)


def has_live_status(workflow_id: str) -> bool:
    """Whether the workflow's progress keeps a live status message (edited as it runs)."""
    from autodev.progress import slack_updates

    return slack_updates.message_state(workflow_id) is not None


def _as_dict(view: WorkflowView) -> dict[str, Any]:
    return {name: getattr(view, name) for name in view.__dataclass_fields__}


def status(workflow_id: str, *, read_execution: bool = True) -> WorkflowView:
    """The workflow with every step of its template: run ones with their state, the rest
    pending (all of them without ``read_execution``: the row alone, see
    ``get_workflow_status``)."""
    from autodev import workflows

    found = workflow_view(workflows.get_workflow_status(workflow_id, read_execution=read_execution))
    found = workflow_view({**_as_dict(found), "deliveries": deliveries(found.id)})
    planned = _step_names(_templates().get(found.template))
    if not planned:
        return found
    ran: dict[str, str] = {}
    for step in found.steps:
        ran[step.name] = step.status  # the latest record of a state wins
    steps = [StepView(name, _step_state(ran.get(name, "pending"))) for name in planned]
    extra = [StepView(n, _step_state(st)) for n, st in ran.items() if n not in planned]
    return workflow_view({**_as_dict(found), "steps": (*steps, *extra)})


def deliveries(workflow_id: str) -> tuple[DeliveryView, ...]:
    """The deliveries of the workflow's result, for /workflow status (issue 8: a dead one's
    reason must be visible there)."""
    from autodev import callbacks

    return tuple(
        DeliveryView(
            channel=d.channel,
            destination=d.destination,
            status=d.status,
            attempts=d.attempts,
            max_attempts=d.max_attempts,
            last_error=d.last_error,
        )
        for d in callbacks.delivery_status(workflow_id)
    )


def _step_state(state: str) -> str:
    return {"caught": "failed", "stopped": "cancelled"}.get(state, state)


def cancel(workflow_id: str, by: str) -> WorkflowView:
    from autodev import callbacks, workflows

    cancelled = workflows.cancel_workflow(workflow_id, by)
    callbacks.kick_delivery()  # the cancellation's result, committed by cancel_workflow
    return status(cancelled.id)


def template_and_input(workflow_id: str) -> tuple[str, dict[str, Any]]:
    """The template and input of an earlier workflow (for Retry)."""
    from autodev import workflows

    previous = workflows.get_workflow_status(workflow_id)
    return str(_get(previous, "template")), dict(_get(previous, "input") or {})


def decide(target_id: str, approver: str, approved: bool, comment: str | None) -> Decision:
    """Answer an approval, given its id or a workflow (id, execution name or short id) waiting
    for one."""
    from autodev import workflows

    approval_id = workflows.approval_to_answer(target_id)
    result = workflows.respond_to_approval(approval_id, approver, approved, comment)
    workflow_id = _get(result, "workflow_id") if result is not None else None
    return Decision(approval_id, _text(workflow_id), approved, approver, comment)


def orchestrator_overview(failures: int = 5) -> dict[str, Any]:
    """What ``/orchestrator`` shows: ``autodev.orchestrator.overview`` and the worker cap."""
    from autodev.config import get_settings
    from autodev.orchestrator.overview import overview

    return {**overview(failures), "max_instances": get_settings().orchestrator_max_instances}


def monitor_dashboard(window_hours: float = 24) -> Dashboard:
    """What ``/monitor`` shows: the monitoring dashboard of the last ``window_hours``."""
    from autodev.monitoring import dashboard

    return dashboard(window_hours)


# --- schedules and the audit trail ---


def schedule(
    template: str,
    workflow_input: dict[str, Any],
    user: str,
    *,
    expression: str,
    timezone: str | None,
    channel: str | None,
) -> Scheduled:
    """Schedule ``template`` on ``expression``; its runs are announced in ``channel``."""
    from autodev import schedules

    return schedules.schedule_workflow(
        schedules.ScheduleRequest(
            template,
            expression,
            _with_free_text(template, workflow_input),
            user,
            timezone=timezone,
            slack_channel=channel,
        )
    )


def schedules_list() -> list[Scheduled]:
    from autodev import schedules

    return schedules.list_schedules()


def unschedule(ref: str, user: str) -> ScheduledJob:
    from autodev import schedules

    return schedules.unschedule(ref, user)


def audit_trail(ref: str) -> tuple[str, list[AuditEvent]]:
    """The audit trail of a workflow, else of a schedule (see ``audit.trail_for``)."""
    from autodev import audit

    return audit.trail_for(ref)


def approval(approval_id: str) -> Approval:
    from autodev import workflows

    return workflows.get_approval(approval_id)


def approval_view(
    found: Approval, approvers: tuple[str, ...] | None = None, posted_in: str | None = None
) -> ApprovalView:
    """The card of an approval, from its typed summary (no raw step output). Reads nothing:
    it may run inside the transaction that decides the approval."""
    from autodev.config import get_settings

    settings = get_settings()
    where_note = None
    if (posted_in or found.slack_channel) == settings.alert_channel:
        where_note = (
            f"Posted in {settings.alert_channel} (`ALERT_CHANNEL`): this workflow was not"
            " started from Slack, so it has no thread of its own."
        )
    summary = found.summary
    validation = None
    facts: list[tuple[str, str]] = []
    components: tuple[str, ...] = ()
    more = 0
    if summary is not None:
        check = summary.validation
        if check is not None:
            if check.checked == "org":
                note = "validated against the org" + (
                    f" (deploy id `{check.job_id}`)" if check.job_id else ""
                )
            else:
                note = "only the project's metadata was checked: no org was connected"
            if check.scripted:
                note = f"scripted model: {note}"
            validation = ValidationView(
                passed=check.passed,
                outcome=check.outcome,
                figures=tuple(check.figures()),
                problems=tuple(check.problems),
                test_failures=tuple(check.test_failures),
                note=note,
            )
        for label, value in (
            ("Target org", summary.target_org),
            ("Test level", summary.test_level),
            ("Source", f"`{summary.source}`" if summary.source else None),
            ("Components", str(len(summary.components)) if summary.components else None),
        ):
            if value:
                facts.append((label, value))
        shown, more = summary.shown_components()
        components = tuple(shown)
    if summary is not None and summary.requested_by:
        facts.append(("Requested by", person(summary.requested_by)))
    facts.append(("Expires", moment(found.expires_at)))
    return ApprovalView(
        id=found.id,
        workflow_id=found.workflow_id,
        template=summary.template if summary else found.step_name,
        execution_name=(summary.execution_name if summary else "") or found.workflow_id,
        question=found.message,
        what=summary.what() if summary else found.message,
        status=found.status,
        target=summary.target_org if summary else None,
        facts=tuple(facts),
        components=components,
        more_components=more,
        validation=validation,
        requested_by=summary.requested_by if summary else None,
        expires_at=found.expires_at,
        decided_by=found.decided_by,
        decided_at=found.decided_at,
        comment=found.comment,
        details_url=summary.details_url if summary else None,
        approvers=approvers if approvers is not None else settings.approvers,
        where_note=where_note,
    )


def record_card(approval_id: str, channel: str, ts: str) -> Approval:
    """Remember where an approval's card was posted (to close it when decided)."""
    from autodev import workflows

    return workflows.record_card(approval_id, channel, ts)


# --- conversations: a Slack thread is a conversation (autodev.conversations) ---


def latest_workflow(channel: str, thread_ts: str) -> str | None:
    """The newest workflow started in the thread (a follow-up's, once there is one)."""
    from autodev import workflows
    from autodev.slack import threads

    return workflows.latest_in_thread(channel, thread_ts) or threads.workflow_for(
        channel, thread_ts
    )


def thread_conversation(
    user: str,
    channel: str,
    thread_ts: str,
    *,
    team_id: str | None,
    workflow_id: str | None = None,
    template: str | None = None,
) -> Conversation:
    from autodev import conversations

    return conversations.get_or_create_conversation(
        user,
        channel_id=channel,
        thread_ts=thread_ts,
        team_id=team_id,
        workflow_id=workflow_id,
        task_type=template,
        title=template,
    )


def record_start(
    conversation_id: str,
    workflow: WorkflowView,
    requested_by: str,
    workflow_input: Mapping[str, Any],
    follow_up_of: str | None = None,
) -> None:
    from autodev.conversations.runs import record_started

    record_started(
        conversation_id,
        workflow_id=workflow.id,
        template=workflow.template,
        execution_name=workflow.execution_name,
        requested_by=requested_by,
        workflow_input=workflow_input,
        follow_up_of=follow_up_of,
    )


def record_message(conversation_id: str, user: str, text: str) -> None:
    from autodev import conversations

    conversations.add_message(conversation_id, "user", text, user_id=user, summarize=False)


def answer(conversation_id: str, user: str, text: str) -> Reply:
    """Claude's answer from the conversation (the message is added first)."""
    from autodev import conversations

    return conversations.reply(conversation_id, text, user_id=user)


def classify(text: str, template: str) -> Intent:
    from autodev.conversations.intents import classify as sort

    return sort(text, template=template, templates=template_names())


def follow_up_input(
    workflow_id: str, template: str, request: str
) -> tuple[dict[str, Any], str | None]:
    """The input of a follow-up run of ``template`` asking for ``request`` after the
    workflow: the same template keeps the earlier input; on a repository, it starts from the
    workflow's branch when that has changes (else from the ref it started at). Also returns
    that branch (None without a repository)."""
    from autodev import repos

    previous_template, previous_input = template_and_input(workflow_id)
    kept = (
        {k: v for k, v in previous_input.items() if k not in ("repo", "ref")}
        if template == previous_template
        else {}
    )
    field = _get(_templates().get(template), "free_text_field") or "request"
    kept[str(field)] = request
    run = repos.workflow_repository(workflow_id)
    if run is None:
        return kept, None
    kept["repo"] = run.repository.name
    kept["ref"] = run.branch if run.changed else run.ref
    return kept, run.branch if run.changed else None


def remember(user: str, text: str, team_id: str | None) -> Memory:
    from autodev import conversations

    return conversations.remember(
        user, text, team_id=team_id, source=conversations.MemorySource.REQUEST
    )


def memories(user: str, team_id: str | None) -> list[Memory]:
    from autodev import conversations

    return conversations.list_memories(user, team_id=team_id)


def forget(user: str, which: str) -> list[Memory]:
    """Forget one of the user's memories, by its id (digits) or its text."""
    from autodev import conversations

    which = which.strip()
    if which.isdigit():
        return conversations.forget(user, memory_id=int(which))
    return conversations.forget(user, text=which)
