"""Workflows: the template catalog, starting and following executions, and approvals.

Each template is a Step Functions state machine (``statemachines/<template>.asl.json``) with a
catalog entry (``templates/<template>.json`` here). A workflow is one execution plus its row in
``workflows``; approvals keep their task tokens in ``approvals``. A workflow is named by its id,
its execution name or its short id (``ids``). By use case: ``start``, ``register`` (an
execution started elsewhere becomes a workflow), ``status``, ``finish``, ``cancel`` and
``reconcile`` (rows whose execution ended or is gone); ``records`` holds what they share of
the ``workflows`` table (this package owns it and ``approvals``; the cost of a workflow's tasks
comes from the orchestrator).

The package's names load lazily (``__getattr__``): ``from autodev.workflows import
start_workflow`` imports ``autodev.workflows.start`` and what it needs, not every module here
(the Step Functions client's boto3, psycopg, the settings), so a handler pays only for
what it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autodev.lazy import lazy_names

if TYPE_CHECKING:
    from autodev.workflows.approval_summary import ApprovalSummary, ValidationSummary
    from autodev.workflows.approvals import (
        AlreadyDecided,
        GroupResolver,
        NotAllowed,
        approval_to_answer,
        get_approval,
        is_allowed_approver,
        pending_approvals,
        record_card,
        register_group_resolver,
        respond_to_approval,
    )
    from autodev.workflows.budget import WorkflowBudget
    from autodev.workflows.cancel import cancel_workflow
    from autodev.workflows.catalog import StepInfo, TemplateInfo, get_template, list_templates
    from autodev.workflows.finish import finish_workflow
    from autodev.workflows.ids import AmbiguousId, resolve_workflow_id, short_id
    from autodev.workflows.models import (
        Approval,
        StartRequest,
        StepRecord,
        WorkflowResult,
        WorkflowStart,
        WorkflowStatus,
    )
    from autodev.workflows.reconcile import ReconcileReport, reconcile_workflows
    from autodev.workflows.records import (
        latest_in_thread,
        slack_thread,
        status_counts,
        workflow_budget,
    )
    from autodev.workflows.sfn import StepFunctionsError
    from autodev.workflows.start import (
        record_execution,
        start_workflow,
        started_with_key,
        workflow_budget_for,
    )
    from autodev.workflows.status import get_workflow_status, list_workflows
    from autodev.workflows.webhooks import WebhookRegistration, add_webhook

# Each public name, and the module of this package that defines it.
_WHERE = {
    "AlreadyDecided": "approvals",
    "AmbiguousId": "ids",
    "Approval": "models",
    "ApprovalSummary": "approval_summary",
    "GroupResolver": "approvals",
    "NotAllowed": "approvals",
    "ReconcileReport": "reconcile",
    "StartRequest": "models",
    "StepFunctionsError": "sfn",
    "StepInfo": "catalog",
    "StepRecord": "models",
    "TemplateInfo": "catalog",
    "ValidationSummary": "approval_summary",
    "WebhookRegistration": "webhooks",
    "WorkflowBudget": "budget",
    "WorkflowResult": "models",
    "WorkflowStart": "models",
    "WorkflowStatus": "models",
    "add_webhook": "webhooks",
    "approval_to_answer": "approvals",
    "cancel_workflow": "cancel",
    "finish_workflow": "finish",
    "get_approval": "approvals",
    "get_template": "catalog",
    "get_workflow_status": "status",
    "is_allowed_approver": "approvals",
    "latest_in_thread": "records",
    "list_templates": "catalog",
    "list_workflows": "status",
    "pending_approvals": "approvals",
    "reconcile_workflows": "reconcile",
    "record_card": "approvals",
    "record_execution": "start",
    "register_group_resolver": "approvals",
    "resolve_workflow_id": "ids",
    "respond_to_approval": "approvals",
    "short_id": "ids",
    "slack_thread": "records",
    "start_workflow": "start",
    "started_with_key": "start",
    "status_counts": "records",
    "workflow_budget": "records",
    "workflow_budget_for": "start",
}


__getattr__, __dir__ = lazy_names(__name__, _WHERE)


__all__ = [
    "AlreadyDecided",
    "AmbiguousId",
    "Approval",
    "ApprovalSummary",
    "GroupResolver",
    "NotAllowed",
    "ReconcileReport",
    "StartRequest",
    "StepFunctionsError",
    "StepInfo",
    "StepRecord",
    "TemplateInfo",
    "ValidationSummary",
    "WebhookRegistration",
    "WorkflowBudget",
    "WorkflowResult",
    "WorkflowStart",
    "WorkflowStatus",
    "add_webhook",
    "approval_to_answer",
    "cancel_workflow",
    "finish_workflow",
    "get_approval",
    "get_template",
    "get_workflow_status",
    "is_allowed_approver",
    "latest_in_thread",
    "list_templates",
    "list_workflows",
    "pending_approvals",
    "reconcile_workflows",
    "record_card",
    "record_execution",
    "register_group_resolver",
    "resolve_workflow_id",
    "respond_to_approval",
    "short_id",
    "slack_thread",
    "start_workflow",
    "started_with_key",
    "status_counts",
    "workflow_budget",
    "workflow_budget_for",
]
