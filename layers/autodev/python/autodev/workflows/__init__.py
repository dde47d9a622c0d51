"""Workflows: the template catalog, starting and following executions, and approvals.

Each template is a Step Functions state machine (``statemachines/<template>.asl.json``) with a
catalog entry (``templates/<template>.json`` here). A workflow is one execution plus its row in
``workflows``; approvals keep their task tokens in ``approvals``. A workflow is named by its id,
its execution name or its short id (``ids``). By use case: ``start``, ``register`` (an
execution started elsewhere becomes a workflow), ``status``, ``finish``, ``cancel`` and
``reconcile`` (rows whose execution ended or is gone); ``records`` holds what they share of
the ``workflows`` table (this package owns it and ``approvals``; the cost of a workflow's tasks
comes from the orchestrator).
"""

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
from autodev.workflows.cancel import cancel_workflow
from autodev.workflows.catalog import StepInfo, TemplateInfo, get_template, list_templates
from autodev.workflows.finish import finish_workflow
from autodev.workflows.ids import AmbiguousId, resolve_workflow_id, short_id
from autodev.workflows.models import (
    Approval,
    StartRequest,
    StepRecord,
    WorkflowBudget,
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
