"""What the state machines' Tasks send to functions/enqueue_task, request_approval,
workflow_started and workflow_finished.

Both payloads are validated here; the prompt and allowed tools of a step come from the
template catalog unless the payload gives its own (a state machine outside the catalog).

A step runs once. Step Functions may call enqueue_task again for the same step: a Lambda
Retry after the first call committed its task (the connection dropped as the commit was
acknowledged, the function timed out after it). Each agent Task sends the execution id and
``$$.State.EnteredTime``, which stays the same across the Retries of one entry into the state
(RetryCount counts them) and changes when the state is entered again, as bug-fix's fix is
after a failed verification; with the state name and the Map item index they are the step's
key. A call whose key is taken gets the task queued before, with the new task token (a Retry
is a new attempt of the Task, which Step Functions waits on under a new token); the worker
answers with the token it reads from the task when it is done, and a task that had already
finished is answered again at once, to the new token. A step of a workflow that has ended is
refused (WorkflowEnded) and nothing is queued.

The payload models load with this module (every invocation parses one); what each step does
(the catalog, the database, the queue, the settings) is imported by the function that does
it, on first use: functions/enqueue_task, request_approval, workflow_started and
workflow_finished import this module at cold start, which must cost less than ``import boto3``
(issue 18). The work's imports are then paid by the first invocation instead.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from autodev.aws import invoke_async
from autodev.errors import AutodevError, InvalidInput
from autodev.observability import best_effort_failed, child_logger

if TYPE_CHECKING:
    from autodev.workflows.models import Approval, WorkflowResult

log = child_logger(__name__)

# The scaler's function (infra's invoke-scaler grant sets it; unset: nobody to ask). Read
# from the environment where it is used, not through the settings: the Slack front door asks
# too, and does not load the settings (pydantic) on its cold start.
SCALER_FUNCTION_ENV = "AUTODEV_SCALER_FUNCTION"


class WorkflowEnded(AutodevError):
    """A step was asked for a workflow that has already ended; nothing was queued."""


# defer_build: a model's validator is built when it first validates, so each step handler
# builds only the request it receives, not every request this module defines.
_REQUEST = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class _Payload(BaseModel):
    model_config = _REQUEST

    task_token: str = Field(min_length=1, max_length=2048)
    workflow_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    template: str = Field(min_length=1)
    step: str = Field(min_length=1)
    state: str = Field(min_length=1, max_length=200)
    timeout_seconds: int = Field(gt=0)
    context: dict[str, Any] = Field(default_factory=dict)


class EnqueueRequest(_Payload):
    priority: Literal["critical", "high", "normal", "low"] = "normal"
    item_index: int | None = Field(default=None, ge=0)
    prompt: str | None = None
    allowed_tools: list[str] | None = None
    # A deterministic step names its tool (it must be the template step's): the worker runs
    # that tool instead of Claude Code.
    tool: str | None = Field(default=None, min_length=1, max_length=100)
    # $$.Execution.Id and $$.State.EnteredTime: with the state and the item, the step's key.
    # Optional, so that executions started before they were sent still run (without the key).
    execution_id: str | None = Field(default=None, min_length=1, max_length=2048)
    state_entered_at: str | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("state_entered_at")
    @classmethod
    def _iso_time(cls, value: str | None) -> str | None:
        if value is not None:
            datetime.fromisoformat(value)  # a ValueError is reported as a validation error
        return value

    def step_key(self) -> str | None:
        """The key of this attempt of the step (None without the execution's details)."""
        if self.execution_id is None or self.state_entered_at is None:
            return None
        parts = [self.execution_id, self.state, self.state_entered_at, self.item_index]
        return json.dumps(parts, separators=(",", ":"))


class ApprovalRequest(_Payload):
    message: str | None = None


class FinishRequest(BaseModel):
    model_config = _REQUEST

    workflow_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    status: Literal["succeeded", "failed", "timed_out"]
    steps: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None
    error: str | None = None


class RegisterRequest(BaseModel):
    """What "Register workflow" sends: the template (fixed in the definition), the
    execution's ARN and name (``$$.Execution``) and its input (``$``)."""

    model_config = _REQUEST

    template: str = Field(min_length=1, max_length=64)
    execution_arn: str = Field(min_length=1, max_length=2048)
    execution_name: str = Field(min_length=1, max_length=80)
    execution_input: Any = None


def parse(model: type[BaseModel], event: Any) -> Any:
    """The payload as ``model``; InvalidInput names the first problem."""
    try:
        return model.model_validate(event)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise InvalidInput(f"the step payload is not valid at {where}: {first['msg']}") from None


def enqueue_step(request: EnqueueRequest) -> str:
    """Queue the agent task of a step, keeping its task token server-side; return the task id.

    Called again for the same attempt of the step (a Retry), it returns the task queued the
    first time and gives it the new token. Refuses (WorkflowEnded) a workflow that has ended.
    """
    from autodev.config import get_settings
    from autodev.db import connection
    from autodev.orchestrator import queue
    from autodev.workflows.catalog import get_template, render_prompt
    from autodev.workflows.models import FINAL_STATUSES
    from autodev.workflows.records import lock_status, mark_step, workflow_budget

    template = get_template(request.template)
    step = template.step(request.step)
    if request.tool != step.tool:
        raise InvalidInput(
            f"step {request.step} of {request.template} runs "
            + (f"the tool {step.tool!r}" if step.tool else "an agent")
            + f", not {request.tool or 'an agent'!r}: the payload's 'tool' must match"
        )
    prompt = request.prompt or render_prompt(template, step, request.context)
    tools = (
        tuple(request.allowed_tools) if request.allowed_tools is not None else step.allowed_tools
    )
    # Map iterations share a state name; number them so each task reads well on its own.
    name = (
        request.state
        if request.item_index is None
        else f"{request.state} #{request.item_index + 1}"
    )
    key = request.step_key()
    if key is None:
        log.warning(
            "step %r of workflow %s came without its execution id and entered time; "
            "a retry of it would be queued again",
            name,
            request.workflow_id,
        )
    settings = get_settings()
    with connection() as conn:
        status = lock_status(conn, request.workflow_id)
        if status in FINAL_STATUSES:
            raise WorkflowEnded(
                f"workflow {request.workflow_id} has already ended ({status}); "
                f"its step {name!r} was not queued"
            )
        budget = workflow_budget(request.workflow_id, conn=conn).limit_usd
        task_budget = (
            settings.task_budget_usd if budget is None else min(settings.task_budget_usd, budget)
        )
        submitted = queue.submit(
            queue.TaskSpec(
                task_type=step.task_type,
                prompt=prompt,
                priority=request.priority,
                context={
                    "template": request.template,
                    "step": request.step,
                    **request.context,
                    # A tool step: the worker runs the tool, not Claude Code (tool_task).
                    **({"tool": step.tool, "tool_options": step.tool_options} if step.tool else {}),
                    # A Map iteration pushes its own branch before merging (autodev.repos).
                    **(
                        {"item_index": request.item_index} if request.item_index is not None else {}
                    ),
                },
                allowed_tools=tools,
                budget_usd=task_budget,
                timeout_ms=request.timeout_seconds * 1000,
                workflow_id=request.workflow_id,
                step_name=name,
                task_token=request.task_token,
                step_key=key,
            ),
            conn=conn,
        )
        mark_step(request.workflow_id, name, conn=conn)
    if not submitted.created:
        log.info(
            "step %r was queued before (a retry): task %s (%s) now answers the new token",
            name,
            submitted.id,
            submitted.status,
        )
        if submitted.finished:
            _answer_again(submitted.id)
    return submitted.id


def _answer_again(task_id: str) -> None:
    """Send a finished task's outcome to the token its step waits on now (the one it had is
    spent: its attempt failed). What cannot be sent now the rescuer sends from the outbox."""
    from autodev.db import DatabaseUnavailable
    from autodev.orchestrator import outcomes

    try:
        outcomes.deliver_task(task_id)
    except (outcomes.DeliveryFailed, DatabaseUnavailable) as error:
        log.warning("outcome of task %s left for the rescuer: %s", task_id, error)


def open_approval(request: ApprovalRequest) -> Approval:
    """Store the approval request of a step, with the summary its approvers decide from, and
    announce it."""
    from autodev.db import connection
    from autodev.workflows import approvals, records, sfn
    from autodev.workflows.approval_summary import build_summary
    from autodev.workflows.catalog import get_template, render_prompt

    template = get_template(request.template)
    step = template.step(request.step)
    message = request.message or render_prompt(template, step, request.context)
    with connection() as conn:
        row = records.load(conn, request.workflow_id)
    arn = row["execution_arn"]
    steps = request.context.get("steps")
    summary = build_summary(
        question=message,
        workflow_id=request.workflow_id,
        template=template.name,
        workflow_input=template.with_defaults(request.context.get("input") or {}),
        steps=steps if isinstance(steps, dict) else {},
        execution_name=str(row["execution_name"] or ""),
        requested_by=row["requested_by"],
        details_url=sfn.console_url(arn) if arn else None,
    )
    return approvals.request_approval(
        request.workflow_id,
        request.task_token,
        request.state,
        message,
        request.timeout_seconds,
        summary,
    )


def poke_scaler(task_id: str) -> bool:
    """Ask the scaler (AUTODEV_SCALER_FUNCTION) to look at the queue now; False when unset.

    Asynchronous and best effort: the task is queued either way, and the scaler also runs on a
    schedule, so a failed poke is logged, not raised.
    """
    return _invoke_scaler({"reason": "task queued", "task_id": task_id})


def scale_ahead(workflow_id: str, expected: int = 1) -> bool:
    """Ask the scaler for the workers of ``expected`` steps a starting workflow is about to
    queue, so that they boot while its execution reaches them; False when there is no scaler
    to ask (AUTODEV_SCALER_FUNCTION unset). Best effort like ``poke_scaler``: the enqueue
    pokes the scaler again in any case."""
    return _invoke_scaler(
        {"reason": "workflow starting", "workflow_id": workflow_id, "expected": expected}
    )


def scale_ahead_of_request(template: str) -> bool:
    """Ask the scaler for the worker of a workflow's first step as soon as someone asks for the
    workflow (the Slack front door, on ``/workflow start <template>``), before the request is
    checked and the workflow recorded: in AWS a Fargate worker takes far longer to start than
    the Slack worker's checks and the execution's first states, so it boots meanwhile. False
    when the template is unknown or starts with an approval, or there is no scaler to ask.

    A request refused later leaves that worker nothing to claim: it leaves after its idle
    timeout, like any idle worker. It is one more worker at most, within the scaler's maximum,
    for a person who could start the workflow itself (starting one is open to everyone)."""
    from autodev.workflows.catalog import starts_with_worker_step

    if not starts_with_worker_step(template):
        return False
    return _invoke_scaler({"reason": "workflow requested", "template": template, "expected": 1})


def _invoke_scaler(event: dict[str, Any]) -> bool:
    function = os.environ.get(SCALER_FUNCTION_ENV)
    if not function:
        return False
    try:
        invoke_async(function, event)
    except Exception:
        best_effort_failed("scaler_poke", log, function=function)
        return False
    return True


def finish(request: FinishRequest) -> WorkflowResult:
    from autodev.workflows.finish import finish_workflow

    return finish_workflow(
        request.workflow_id,
        request.status,
        steps=request.steps,
        failure=request.failure,
        error=request.error,
    )


def register(request: RegisterRequest) -> dict[str, Any]:
    """The execution's workflow (registered on first sight): ``autodev.workflows.register``."""
    from autodev.workflows.register import register_execution

    return register_execution(request)
