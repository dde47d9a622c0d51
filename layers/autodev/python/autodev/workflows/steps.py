"""What the state machines' Tasks send to functions/enqueue_task and functions/request_approval.

Both payloads are validated here; the prompt and allowed tools of a step come from the
template catalog unless the payload gives its own (a state machine outside the catalog).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autodev.aws import client
from autodev.config import get_settings
from autodev.db import connection
from autodev.errors import InvalidInput
from autodev.observability import best_effort_failed, child_logger, correlated
from autodev.orchestrator.queue import TaskSpec, submit_task
from autodev.workflows import approvals, records, sfn
from autodev.workflows.approval_summary import build_summary
from autodev.workflows.catalog import get_template, render_prompt
from autodev.workflows.finish import finish_workflow
from autodev.workflows.models import Approval, WorkflowResult
from autodev.workflows.records import mark_step, workflow_budget

log = child_logger(__name__)


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

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


class ApprovalRequest(_Payload):
    message: str | None = None


class FinishRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    workflow_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    status: Literal["succeeded", "failed", "timed_out"]
    steps: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None
    error: str | None = None


def parse(model: type[BaseModel], event: Any) -> Any:
    """The payload as ``model``; InvalidInput names the first problem."""
    try:
        return model.model_validate(event)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise InvalidInput(f"the step payload is not valid at {where}: {first['msg']}") from None


def enqueue_step(request: EnqueueRequest) -> str:
    """Queue the agent task of a step, keeping its task token server-side; return the task id."""
    template = get_template(request.template)
    step = template.step(request.step)
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
    settings = get_settings()
    with connection() as conn:
        budget = workflow_budget(request.workflow_id, conn=conn).limit_usd
        task_budget = (
            settings.task_budget_usd if budget is None else min(settings.task_budget_usd, budget)
        )
        task_id = submit_task(
            TaskSpec(
                task_type=step.task_type,
                prompt=prompt,
                priority=request.priority,
                context={
                    "template": request.template,
                    "step": request.step,
                    **request.context,
                },
                allowed_tools=tools,
                budget_usd=task_budget,
                timeout_ms=request.timeout_seconds * 1000,
                workflow_id=request.workflow_id,
                step_name=name,
                task_token=request.task_token,
            ),
            conn=conn,
        )
        mark_step(request.workflow_id, name, conn=conn)
    return task_id


def open_approval(request: ApprovalRequest) -> Approval:
    """Store the approval request of a step, with the summary its approvers decide from, and
    announce it."""
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
    function = get_settings().autodev_scaler_function
    if not function:
        return False
    try:
        client("lambda").invoke(
            FunctionName=function,
            InvocationType="Event",
            Payload=json.dumps(correlated({"reason": "task queued", "task_id": task_id})).encode(),
        )
    except Exception:
        best_effort_failed("scaler_poke", log, function=function)
        return False
    return True


def finish(request: FinishRequest) -> WorkflowResult:
    return finish_workflow(
        request.workflow_id,
        request.status,
        steps=request.steps,
        failure=request.failure,
        error=request.error,
    )
