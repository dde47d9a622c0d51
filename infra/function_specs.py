"""One entry per Lambda: its size, its concurrency cap and exactly the grants it uses.

Adding a function is one entry here plus its ``functions/<name>/handler.py``; a test fails when
a handler folder has no entry (the app still builds it with ``DEFAULT_SPEC`` and a warning, so
one engineer's new folder never breaks another's synth). Grants are named capabilities; the
``functions`` construct turns each into the narrowest IAM statement and the environment
variables the code reads (documented in infra/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Grant(StrEnum):
    # Postgres through RDS Proxy: the function runs in the VPC, reads the database secret.
    DATABASE = "database"
    # Secrets Manager values, read at run time with Powertools Parameters.
    SLACK_SIGNING_SECRET = "slack-signing-secret"  # noqa: S105 - a capability name
    SLACK_BOT_TOKEN = "slack-bot-token"  # noqa: S105 - a capability name
    ANTHROPIC_API_KEY = "anthropic-api-key"
    # The repositories' credentials secrets (autodev/<env>/repositories/*): the ref check when
    # a workflow starts, the pull request when it ends (autodev.repos).
    REPOSITORY_CREDENTIALS = "repository-credentials"
    # Step Functions.
    START_WORKFLOWS = "start-workflows"  # states:StartExecution on autodev's state machines
    READ_WORKFLOWS = "read-workflows"  # Describe/GetExecutionHistory/ListExecutions
    STOP_WORKFLOWS = "stop-workflows"  # states:StopExecution on their executions
    TASK_CALLBACKS = "task-callbacks"  # SendTaskSuccess/Failure/Heartbeat
    # EventBridge bus of the spec's events.
    PUBLISH_EVENTS = "publish-events"
    # ecs:RunTask of the worker task definition (and PassRole of its two roles).
    RUN_WORKERS = "run-workers"
    # Asynchronous invocations of Lambdas.
    INVOKE_SELF = "invoke-self"  # Slack handlers answer in 3 s, then continue in an async call
    INVOKE_SCALER = "invoke-scaler"
    INVOKE_DELIVERY = "invoke-delivery"
    INVOKE_SLACK_WORKER = "invoke-slack-worker"  # the slow half of Slack requests
    # EventBridge Scheduler schedules for `/workflow schedule` (group autodev-<env>).
    MANAGE_SCHEDULES = "manage-schedules"
    # The model API health check: the Anthropic key (anthropic) or ListFoundationModels
    # (bedrock), whichever provider the stack uses.
    PROBE_MODEL = "probe-model"
    # autodev's own model calls through the anthropic SDK (answers in Slack threads, summaries,
    # memories): the Anthropic key (anthropic) or bedrock:InvokeModel on Anthropic models.
    CALL_MODEL = "call-model"


@dataclass(frozen=True)
class FunctionSpec:
    description: str
    memory_mb: int = 256
    timeout_seconds: int = 30
    # Caps the connections a burst can open through RDS Proxy; None leaves it uncapped.
    reserved_concurrency: int | None = None
    grants: frozenset[Grant] = frozenset()
    environment: dict[str, str] = field(default_factory=dict)
    # EventBridge Scheduler expression for maintenance runs (rescuer, delivery retries).
    schedule: str | None = None
    # Detail types on the autodev bus (source "autodev") routed to the function by a rule.
    events: frozenset[str] = frozenset()
    # Decides who may approve or cancel (autodev.access): gets the environment's APPROVERS,
    # APPROVER_GROUP and ADMINS. The CLI in AWS applies slack_worker's.
    decides_access: bool = False


G = Grant


def _slack_front_door(description: str, *more: Grant) -> FunctionSpec:
    """The front doors verify the signature and hand the job on: no database, no VPC, so their
    cold start stays short."""
    return FunctionSpec(
        description,
        memory_mb=512,
        timeout_seconds=10,
        grants=frozenset({G.SLACK_SIGNING_SECRET, G.INVOKE_SLACK_WORKER, *more}),
    )


SPECS: dict[str, FunctionSpec] = {
    # --- called by the state machines ---
    "workflow_started": FunctionSpec(
        "First state of every workflow: finds the execution's workflow row or registers one"
        " (executions started from the console, EventBridge or another service).",
        reserved_concurrency=5,
        grants=frozenset({G.DATABASE}),
    ),
    "enqueue_task": FunctionSpec(
        "Writes an agent step's task (with its task token) to the queue and pokes the scaler.",
        reserved_concurrency=10,
        # TASK_CALLBACKS: a Retry of a step whose task had already finished is answered at once.
        grants=frozenset({G.DATABASE, G.INVOKE_SCALER, G.TASK_CALLBACKS}),
    ),
    "request_approval": FunctionSpec(
        "Stores an approval's task token and posts the Approve/Reject card.",
        reserved_concurrency=5,
        grants=frozenset({G.DATABASE, G.SLACK_BOT_TOKEN, G.PUBLISH_EVENTS}),
        decides_access=True,  # names the approvers in approval:requested
    ),
    "workflow_finished": FunctionSpec(
        "Records a workflow's outcome, opens its pull request when it changed files, hands"
        " its result to the delivery function and its conversation's end to the Slack worker.",
        timeout_seconds=60,
        reserved_concurrency=5,
        grants=frozenset(
            {
                G.DATABASE,
                G.SLACK_BOT_TOKEN,
                G.PUBLISH_EVENTS,
                G.INVOKE_DELIVERY,
                G.REPOSITORY_CREDENTIALS,
                # The end's note and learning (a model call) run there, asynchronously.
                G.INVOKE_SLACK_WORKER,
            }
        ),
    ),
    # --- orchestrator ---
    "scaler": FunctionSpec(
        "Starts a Fargate worker per queued task no free worker takes (busy ones are not room),"
        " up to ORCHESTRATOR_MAX_INSTANCES.",
        timeout_seconds=60,
        # One at a time, so two pokes cannot both start the last allowed worker.
        reserved_concurrency=1,
        grants=frozenset({G.DATABASE, G.RUN_WORKERS}),
    ),
    "rescuer": FunctionSpec(
        "Ends workflows whose execution ended or is gone; requeues tasks whose lease expired;"
        " fails them past their retries; sends outcomes left in the outbox; publishes"
        " unpublished task results; runs the scaler.",
        timeout_seconds=120,
        reserved_concurrency=1,
        grants=frozenset(
            {
                G.DATABASE,
                G.TASK_CALLBACKS,
                G.PUBLISH_EVENTS,
                G.RUN_WORKERS,
                G.READ_WORKFLOWS,
                G.INVOKE_DELIVERY,
            }
        ),
        schedule="rate(1 minute)",
    ),
    # --- Slack (issue 7): three thin front doors answer in 3 s; slack_worker does the rest ---
    "slack_commands": _slack_front_door(
        "Serves /workflow, /monitor and /orchestrator slash commands (verify, answer, hand on).",
        # `/workflow start` asks the scaler for the first step's worker as it hands the job on.
        G.INVOKE_SCALER,
    ),
    "slack_interactions": _slack_front_door(
        "Serves Block Kit button clicks (verify, answer, hand on to the Slack worker)."
    ),
    "slack_events": _slack_front_door(
        "Serves the Slack Events API: url_verification and app_mention (hand on)."
    ),
    "slack_worker": FunctionSpec(
        "The slow half of Slack requests (async); posts approval cards on approval:requested.",
        memory_mb=512,
        timeout_seconds=120,
        reserved_concurrency=10,
        grants=frozenset(
            {
                G.DATABASE,
                G.SLACK_BOT_TOKEN,
                G.START_WORKFLOWS,
                G.READ_WORKFLOWS,
                G.STOP_WORKFLOWS,
                G.TASK_CALLBACKS,
                G.PUBLISH_EVENTS,
                G.MANAGE_SCHEDULES,
                G.INVOKE_DELIVERY,
                # A workflow it starts asks the scaler for its first step's worker at once.
                G.INVOKE_SCALER,
                G.REPOSITORY_CREDENTIALS,
                G.CALL_MODEL,
            }
        ),
        events=frozenset({"approval:requested"}),
        decides_access=True,  # approvals and cancels from Slack
    ),
    # --- results (issue 8) ---
    "deliver_results": FunctionSpec(
        "Sends outbox deliveries (Slack, signed webhooks, events) with retries.",
        timeout_seconds=120,
        reserved_concurrency=2,
        grants=frozenset({G.DATABASE, G.SLACK_BOT_TOKEN, G.PUBLISH_EVENTS}),
        schedule="rate(1 minute)",
    ),
    "results_api": FunctionSpec(
        "GET /results/{id}: the cached result of a task or workflow and its status;"
        " POST /results/{id}/webhooks: a signed webhook for a workflow's result.",
        timeout_seconds=10,
        reserved_concurrency=5,
        grants=frozenset({G.DATABASE}),
    ),
    # --- monitoring ---
    "alerts": FunctionSpec(
        "Evaluates alerts every minute (error rate, health, dead tasks, budgets, queue age) and"
        " posts CloudWatch alarms from SNS to the alert channel, with a cooldown.",
        timeout_seconds=60,
        # One at a time: the evaluator also takes an advisory lock, this saves the wait.
        reserved_concurrency=1,
        grants=frozenset(
            {
                G.DATABASE,
                G.SLACK_BOT_TOKEN,
                G.PUBLISH_EVENTS,
                G.READ_WORKFLOWS,
                G.PROBE_MODEL,
            }
        ),
        schedule="rate(1 minute)",
    ),
    "health": FunctionSpec(
        "GET /health: each health check's state and latency; 503 when one fails.",
        timeout_seconds=30,
        reserved_concurrency=2,
        grants=frozenset({G.DATABASE, G.SLACK_BOT_TOKEN, G.READ_WORKFLOWS, G.PROBE_MODEL}),
    ),
    "retention": FunctionSpec(
        "Rolls metric rows past METRICS_RETENTION_DAYS up into hourly figures, hourly.",
        timeout_seconds=300,
        reserved_concurrency=1,
        grants=frozenset({G.DATABASE}),
        schedule="rate(1 hour)",
    ),
    # --- scheduled runs ---
    "scheduled_run": FunctionSpec(
        "A scheduled run's first step: records its workflow and announces it in Slack.",
        timeout_seconds=30,
        reserved_concurrency=5,
        grants=frozenset({G.DATABASE, G.SLACK_BOT_TOKEN}),
    ),
}

# Used, with a synth warning, for a handler folder that has no entry yet.
DEFAULT_SPEC = FunctionSpec(
    "No spec entry yet: database access only.", grants=frozenset({Grant.DATABASE})
)


def spec_for(name: str) -> tuple[FunctionSpec, bool]:
    """The spec for a handler folder, and whether it is an explicit entry."""
    spec = SPECS.get(name)
    return (spec, True) if spec is not None else (DEFAULT_SPEC, False)
