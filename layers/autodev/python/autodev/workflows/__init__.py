"""Workflows: the template catalog, starting and following executions, and approvals.

Each template is a Step Functions state machine (``statemachines/<template>.asl.json``) with a
catalog entry (``templates/<template>.json`` here). A workflow is one execution plus its row in
``workflows``; approvals keep their task tokens in ``approvals``.
"""

from autodev.workflows.approvals import (
    AlreadyDecided,
    GroupResolver,
    NotAllowed,
    get_approval,
    is_allowed_approver,
    pending_approvals,
    register_group_resolver,
    respond_to_approval,
)
from autodev.workflows.catalog import StepInfo, TemplateInfo, get_template, list_templates
from autodev.workflows.models import Approval, StepRecord, WorkflowStart, WorkflowStatus
from autodev.workflows.service import (
    cancel_workflow,
    finish_workflow,
    get_workflow_status,
    list_workflows,
    start_workflow,
)
from autodev.workflows.sfn import StepFunctionsError

__all__ = [
    "AlreadyDecided",
    "Approval",
    "GroupResolver",
    "NotAllowed",
    "StepFunctionsError",
    "StepInfo",
    "StepRecord",
    "TemplateInfo",
    "WorkflowStart",
    "WorkflowStatus",
    "cancel_workflow",
    "finish_workflow",
    "get_approval",
    "get_template",
    "get_workflow_status",
    "is_allowed_approver",
    "list_templates",
    "list_workflows",
    "pending_approvals",
    "register_group_resolver",
    "respond_to_approval",
    "start_workflow",
]
