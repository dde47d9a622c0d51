"""What the workflow API takes and returns: plain frozen dataclasses, safe to show (no task
tokens)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from autodev import validation
from autodev.errors import InvalidInput
from autodev.workflows.catalog import PRIORITIES

if TYPE_CHECKING:
    # An annotation only: the summaries' pydantic models (and the Salesforce results they
    # read) are loaded by the code that builds or reads one, not by every importer of these.
    from autodev.workflows.approval_summary import ApprovalSummary

# workflows.status values; the last four are final.
ACTIVE_STATUSES = frozenset({"pending", "running", "waiting_approval"})
FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "timed_out"})
# workflows.started_by: where a workflow came from. ``stepfunctions``: an execution started in
# Step Functions directly (console, EventBridge, another service), registered on first sight.
STARTED_BY = ("cli", "slack", "api", "stepfunctions")


@dataclass(frozen=True)
class WorkflowStart:
    """The answer to start_workflow. ``created`` is False when the client key was used before:
    this is the workflow that key started, and nothing new was started."""

    id: str
    template: str
    execution_name: str
    execution_arn: str
    console_url: str  # where to see the execution (AWS console or local page); "" if nowhere
    status: str
    created: bool


@dataclass(frozen=True)
class StepRecord:
    """One state of the execution as it ran (a Map iteration or Parallel branch each count)."""

    name: str
    state_type: str
    status: str  # running, succeeded, failed, caught (failed, handled by a Catch), stopped
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None = None
    cause: str | None = None


@dataclass(frozen=True)
class Approval:
    """An approval request, without its task token."""

    id: str
    workflow_id: str
    step_name: str
    message: str
    status: str  # pending, approved, rejected, expired, cancelled
    requested_at: datetime
    expires_at: datetime | None
    decided_by: str | None = None  # who approved, rejected or cancelled it
    decided_at: datetime | None = None  # when it was decided, expired or cancelled
    comment: str | None = None
    summary: ApprovalSummary | None = None  # what the approver decides from
    slack_channel: str | None = None  # where its Slack card was posted
    slack_ts: str | None = None

    @property
    def decided(self) -> bool:
        return self.status != "pending"


@dataclass(frozen=True)
class WorkflowStatus:
    id: str
    template: str
    status: str
    current_step: str | None
    execution_name: str
    execution_arn: str | None
    console_url: str | None
    requested_by: str
    input: dict[str, Any]
    output: Any
    error: str | None
    cause: str | None
    cost_usd: float
    budget_usd: float | None
    created_at: datetime
    finished_at: datetime | None
    slack_channel: str | None = None
    slack_thread_ts: str | None = None
    steps: tuple[StepRecord, ...] = ()
    approvals: tuple[Approval, ...] = field(default=())
    started_by: str = "api"  # which way it came in (STARTED_BY)

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class StartRequest:
    """What ``start_workflow`` is asked to start; the shape is checked here, the input
    against the template's schema when it starts.

    ``client_key`` makes the start idempotent (the same key returns the workflow it started);
    ``budget_usd`` and ``priority`` default to the template's; a budget is bounded by
    ``WORKFLOW_MAX_BUDGET_USD``. With ``slack_channel`` the workflow's progress is shown live in
    one status message in the thread ``slack_thread_ts``: the message ``slack_status_ts``
    edited in place, or a new one. ``started_by`` says which way in it came (``STARTED_BY``).
    ``worker_asked``: the scaler was asked for the first step's worker already (the Slack front
    door, as ``/workflow start`` arrived), so the start does not ask again.
    Text Postgres cannot store (a NUL, an unpaired surrogate) is refused here, before anything
    is recorded or started.
    """

    template: str
    input: Any  # the spec's name for it; a JSON object the template's schema accepts
    requested_by: str
    callback: Mapping[str, Any] | None = None
    client_key: str | None = None
    budget_usd: float | None = None
    priority: str | None = None
    slack_channel: str | None = None
    slack_thread_ts: str | None = None
    slack_status_ts: str | None = None
    started_by: str = "api"
    worker_asked: bool = False

    def __post_init__(self) -> None:
        if self.priority is not None and self.priority not in PRIORITIES:
            raise InvalidInput(
                f"priority must be one of {', '.join(PRIORITIES)}, not {self.priority!r}"
            )
        if self.budget_usd is not None:
            validation.budget_usd(self.budget_usd)
        if not self.requested_by or not self.requested_by.strip():
            raise InvalidInput("a workflow needs the id of who requested it")
        if self.callback is not None and not isinstance(self.callback, Mapping):
            raise InvalidInput("a callback must be a JSON object")
        if self.started_by not in STARTED_BY:
            raise InvalidInput(f"started_by must be one of {', '.join(STARTED_BY)}")
        validation.check_text(self.requested_by, "the requester's id")
        validation.check_text(self.template, "the template name")
        validation.check_strings(self.input, "the input")
        for name in ("client_key", "slack_channel", "slack_thread_ts", "slack_status_ts"):
            value = getattr(self, name)
            if value is not None:
                validation.check_text(value, name)
        if self.callback is not None:
            validation.check_strings(dict(self.callback), "the callback")


@dataclass(frozen=True)
class WorkflowResult:
    """How a workflow ended: what ``finish_workflow`` returns and its callbacks receive."""

    workflow_id: str
    template: str
    status: str
    success: bool
    summary: str
    result: Any
    error: str | None
    cause: str | None
    failed_step: str | None
    execution_name: str
    execution_arn: str | None
    console_url: str | None
    requested_by: str
    cost_usd: float
    finished_at: str | None  # ISO 8601, as delivered
    # The repository it worked on (autodev.repos) and, when it changed files, its branch,
    # pull request and the page of its diff; conflicts left unmerged, if any.
    repository: str | None = None
    ref: str | None = None
    branch: str | None = None
    pull_request_url: str | None = None
    diff_url: str | None = None
    pull_request_error: str | None = None
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The result document the callbacks deliver and ``GET /results/{id}`` serves."""
        return asdict(self)
