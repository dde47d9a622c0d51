"""Any execution of a template is a workflow: the first state of every state machine registers it.

``start_workflow`` writes a workflow's row before StartExecution. An execution started
elsewhere -- the AWS console, an EventBridge rule or schedule, another service's StartExecution
-- has no row, and its first step would fail for want of one. So every state machine begins
with "Register workflow" (functions/workflow_started), which finds the execution's row (by its
ARN, or by the workflow id and name ``start_workflow`` gave it) or creates one on first sight:

- the input is either ``start_workflow``'s envelope (``{"workflow_id", "template",
  "priority", "input", ...}``, e.g. a console re-run of an earlier execution) or just the
  template's input; either way it is checked against the template's schema;
- the budget is the template's default, the priority the envelope's or the template's, the
  requester ``stepfunctions`` and ``started_by`` ``stepfunctions`` (the console, EventBridge or
  another service: Step Functions does not say which).

It answers what the steps need: ``workflow_id``, ``template``, ``priority``, ``input``. Input
the schema refuses still makes a row, failed with the reason (so the refusal is visible and
audited), and the state fails with ``InvalidInput``. Running it twice for one execution (a
retried Lambda) registers it once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from psycopg.types.json import Jsonb

from autodev import audit, validation
from autodev.db import connection
from autodev.errors import InvalidInput
from autodev.observability import child_logger
from autodev.workflows.catalog import PRIORITIES, TemplateInfo, get_template
from autodev.workflows.finish import end_workflow
from autodev.workflows.models import FINAL_STATUSES
from autodev.workflows.start import track
from autodev.workflows.steps import RegisterRequest

log = child_logger(__name__)

OUTSIDE = "stepfunctions"  # requested_by and started_by of an execution started elsewhere
# The keys of start_workflow's execution input.
_ENVELOPE = frozenset(
    {"workflow_id", "template", "priority", "input", "requested_by", "budget_usd"}
)


def _answer(row: Mapping[str, Any], priority: str | None = None) -> dict[str, Any]:
    return {
        "workflow_id": str(row["id"]),
        "template": str(row["template"]),
        "priority": priority or get_template(str(row["template"])).default_priority,
        "input": dict(row["input"] or {}),
    }


def _known(request: RegisterRequest) -> dict[str, Any] | None:
    """The row start_workflow wrote for this execution, if it did."""
    given = request.execution_input if isinstance(request.execution_input, Mapping) else {}
    claimed = given.get("workflow_id")
    with connection() as conn:
        row = conn.execute(
            "SELECT * FROM workflows WHERE execution_arn = %s", (request.execution_arn,)
        ).fetchone()
        if row is None and isinstance(claimed, str):
            try:
                uuid.UUID(claimed)
            except ValueError:
                return None
            # Its ARN was planned before StartExecution; the name and id are what it chose.
            row = conn.execute(
                "SELECT * FROM workflows WHERE id = %s AND execution_name = %s",
                (claimed, request.execution_name),
            ).fetchone()
    return dict(row) if row is not None else None


def _split(info: TemplateInfo, given: Any) -> tuple[Any, str]:
    """The template input and the priority, from an envelope or from the input itself."""
    priority = info.default_priority
    if given is None:
        return {}, priority
    if isinstance(given, Mapping) and "input" in given and set(given) <= _ENVELOPE:
        if given.get("priority") in PRIORITIES:
            priority = str(given["priority"])
        return given.get("input"), priority
    return given, priority


def register_execution(request: RegisterRequest) -> dict[str, Any]:
    """The workflow of this execution (see the module's description)."""
    info = get_template(request.template)
    known = _known(request)
    if known is not None:
        if known["status"] in FINAL_STATUSES:
            # A retried registration of input that was refused, or a workflow ended meanwhile.
            raise InvalidInput(
                f"workflow {known['id']} has already ended ({known['status']}):"
                f" {known['cause'] or known['error'] or 'nothing to run'}"
            )
        given = request.execution_input
        priority = given.get("priority") if isinstance(given, Mapping) else None
        return _answer(known, priority if priority in PRIORITIES else None)

    data, priority = _split(info, request.execution_input)
    refusal: str | None = None
    try:
        validation.check_strings(data, "the input")
        data = info.validate_input(data)
    except InvalidInput as error:
        refusal = str(error)
        data = data if isinstance(data, dict) else {"input": data}
        try:
            validation.check_strings(data, "the input")
        except InvalidInput:
            data = {}  # what Postgres cannot store is not kept; the refusal says why
    row = _insert(request, info, data)
    if row["created"] and refusal is None:
        track(str(row["id"]), info)
    if refusal is not None:
        # workflow_started may not invoke the delivery function: the sweep sends it.
        end_workflow(
            str(row["id"]),
            "failed",
            error="InvalidInput",
            cause=refusal,
            seen_by="registration",
            kick=False,
        )
        raise InvalidInput(refusal)
    return _answer(row, priority)


def _new_id(execution_name: str) -> uuid.UUID:
    """The console names executions with a UUID: that is the workflow's id too, so the name
    people see names the workflow. Any other name gets a fresh id."""
    try:
        return uuid.UUID(execution_name)
    except ValueError:
        return uuid.uuid4()


def _insert(request: RegisterRequest, info: TemplateInfo, data: dict[str, Any]) -> dict[str, Any]:
    fresh = uuid.uuid4()
    # A name an older workflow has (names are free again 90 days after an execution) gets a
    # suffix; an id taken already, a fresh one.
    attempts = [
        (request.execution_name, _new_id(request.execution_name)),
        (f"{request.execution_name}~{fresh.hex[:8]}", fresh),
    ]
    with connection() as conn:
        for name, workflow_id in attempts:
            inserted = conn.execute(
                """INSERT INTO workflows (id, template, execution_name, execution_arn, status,
                       input, requested_by, budget_usd, started_by)
                   VALUES (%s, %s, %s, %s, 'running', %s, %s, %s, %s)
                   ON CONFLICT DO NOTHING
                   RETURNING *""",
                (
                    workflow_id,
                    info.name,
                    name,
                    request.execution_arn,
                    Jsonb(data),
                    OUTSIDE,
                    info.default_budget_usd,
                    OUTSIDE,
                ),
            ).fetchone()
            if inserted is not None:
                audit.record(
                    OUTSIDE,
                    "workflow.started",
                    str(workflow_id),
                    {
                        "template": info.name,
                        "execution_name": request.execution_name,
                        "execution_arn": request.execution_arn,
                        "started_by": OUTSIDE,
                    },
                    conn=conn,
                )
                log.info(
                    "registered execution %s as workflow %s", request.execution_arn, workflow_id
                )
                return {**dict(inserted), "created": True}
            # Registered a moment ago (a retried Lambda), or the name is an older workflow's.
            existing = conn.execute(
                "SELECT * FROM workflows WHERE execution_arn = %s", (request.execution_arn,)
            ).fetchone()
            if existing is not None:
                return {**dict(existing), "created": False}
    raise InvalidInput(f"execution {request.execution_arn} could not be registered")
