"""Running a task with Claude Code: workspace, provider, session, outcome.

For each attempt: a fresh workspace (with earlier steps' changes applied), handed to the
worker's agent user for the session and taken back after (``containment``), the provider's
environment and nothing else, the step's prompt, tools, turn limit and budget (the smaller of
the task's and what is left of the workflow's), the task's deadline. What Claude Code reports
streams into ``monitoring_metrics`` and the progress hook as it comes. The outcome says how it
ended, in words a person can act on.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from autodev.background import started
from autodev.config import ModelProvider, Settings
from autodev.db import recently_unavailable
from autodev.errors import AutodevError, NotFound
from autodev.models import providers
from autodev.models.providers import SCRIPTED_NOTICE
from autodev.observability import best_effort, child_logger
from autodev.orchestrator import metrics, queue, runner, workspace
from autodev.orchestrator.containment import Containment
from autodev.orchestrator.execution import Execution, StopCheck
from autodev.orchestrator.progress_hook import AGENT_STAGE, ProgressHook
from autodev.orchestrator.queue import ClaimedTask
from autodev.orchestrator.runner import AgentOutcome, AgentRequest
from autodev.orchestrator.session_monitor import SessionMonitor, final_json_object
from autodev.repos.checkout import RepositoryCheckout

log = child_logger(__name__)

# Tools a step gets when it names none: look, do not touch.
DEFAULT_TOOLS = ("Read", "Grep", "Glob")
# The transcript artifact keeps at most this many events.
_TRANSCRIPT_EVENTS = 500


def _system_append(settings: Settings) -> str:
    return (
        "You are running as an autodev workflow step in an isolated copy of a Salesforce DX "
        "project. Work only inside the current directory. When the step asks for a JSON "
        "answer, end with that JSON object in a ```json block."
    )


def _completion_client() -> None:
    from autodev.aws import client

    with best_effort("warm_up", log):
        client("stepfunctions")


def _unprepared(provider: ModelProvider, error: AutodevError) -> Execution:
    """The step could not be given its workspace (a bad repository, a failed checkout)."""
    retryable = bool(getattr(error, "retryable", True))
    return Execution(ok=False, provider=provider.value, error=str(error), retryable=retryable)


class ClaudeCodeTaskRunner:
    name = "claude"

    def __init__(self, settings: Settings, worker_id: str) -> None:
        self.settings = settings
        self.worker_id = worker_id
        self.root = settings.workspace_root
        self._containment: Containment | None = None
        self._preparing: Future[Containment] | None = None
        self._completion_warmed = False

    def prepare(self) -> None:
        """Set up the containment of the worker's agents (its agent user, its guard) in the
        background, while the worker claims its first task, rather than in that task's way."""
        if self._containment is None and self._preparing is None:
            self._preparing = started("containment", Containment.for_worker, self.settings)

    def containment(self) -> Containment:
        """The worker's containment of its agents, set up with its first session (or by
        ``prepare``; what it raised is raised here)."""
        if self._containment is None:
            preparing, self._preparing = self._preparing, None
            self._containment = (
                preparing.result()
                if preparing is not None
                else Containment.for_worker(self.settings)
            )
        return self._containment

    def close(self) -> None:
        """The worker is done: its guard ends and its agent user is free for another worker."""
        if self._preparing is not None and self._preparing.exception() is None:
            self.containment()
        self._preparing = None
        if self._containment is not None:
            self._containment.close()
            self._containment = None

    def patches(self, task: ClaimedTask) -> list[tuple[str, str]]:
        """The diffs earlier steps of the task's workflow made, oldest first."""
        if not task.workflow_id:
            return []
        from autodev.callbacks import Artifact, get_result
        from autodev.db import connection

        with connection() as conn:
            rows = conn.execute(
                """SELECT id, step_name, result -> 'artifacts' -> 'diff' ->> 'id' AS diff_id
                   FROM autonomous_tasks
                   WHERE workflow_id = %s AND id <> %s AND status = 'succeeded'
                     AND result -> 'artifacts' ? 'diff'
                   ORDER BY finished_at""",
                (task.workflow_id, task.id),
            ).fetchall()
        found: list[tuple[str, str]] = []
        for row in rows:
            try:
                diff = get_result(str(row["diff_id"]))
            except AutodevError as error:
                log.warning("diff of step %s not found: %s", row["step_name"], error)
                continue
            body = diff.body if isinstance(diff, Artifact) else None
            found.append((f"step {row['step_name'] or row['id']}", str(body)))
        return found

    def reports_agent_start(self, task: ClaimedTask) -> bool:
        """Every task starts Claude Code, whose start the session reports to its progress
        hook (``ProgressHook.agent_started``, or the task's end if it never comes)."""
        del task
        return True

    def execute(self, task: ClaimedTask, should_stop: StopCheck, progress: Any) -> Execution:
        hook: ProgressHook = progress
        # A workflow on a registered repository: clone, then commit and push (autodev.repos).
        checkout = RepositoryCheckout.for_task(task, self.settings)
        try:
            return self._execute(task, should_stop, hook, checkout)
        finally:
            if checkout is not None:
                checkout.close()

    def _execute(
        self,
        task: ClaimedTask,
        should_stop: StopCheck,
        hook: ProgressHook,
        checkout: RepositoryCheckout | None,
    ) -> Execution:
        settings = self.settings
        provider = settings.model_provider
        # What is left of the workflow's budget is read while the workspace is made: both
        # come before the session, neither needs the other.
        budget_left = started("budget", self._budget, task)
        name = f"{task.id}-{task.attempts}"
        space: workspace.Workspace | None = None
        unprepared: AutodevError | None = None
        try:
            if checkout is not None:
                # Checked out once Claude Code is starting (``_session``).
                space = workspace.create(self.root, name)
            else:
                space = workspace.prepare(
                    self.root,
                    name,
                    context=task.context,
                    source=settings.autodev_sfdx_repo,
                    patches=self.patches(task),
                )
        except AutodevError as error:
            unprepared = error
        budget = budget_left.result()
        if budget is not None and budget <= 0:
            return Execution(
                ok=False,
                provider=provider.value,
                error="the workflow has spent its budget; the step was not started",
                error_code=queue.ERROR_WORKFLOW_BUDGET,
                retryable=False,
            )
        if space is None:
            assert unprepared is not None
            return _unprepared(provider, unprepared)
        try:
            containment = self.containment()
            containment.hand_over(self.root, space.root, space.repo, space.home)
        except AutodevError as error:
            return Execution(ok=False, provider=provider.value, error=str(error), retryable=False)
        try:
            execution = self._session(task, space, containment, budget, should_stop, hook, checkout)
        finally:
            # Before the worker's git reads the workspace: nothing in it is the agent's then.
            containment.take_back(space.repo, space.home)
        if execution.workspace is not None:
            try:
                execution.diff, execution.files_changed = workspace.diff(space)
            except AutodevError as error:
                execution.warnings.append(str(error))
        if checkout is not None:
            # Commit and push as the worker, with credentials the agent never saw.
            checkout.publish(execution)
        return execution

    def _session(
        self,
        task: ClaimedTask,
        space: workspace.Workspace,
        containment: Containment,
        budget: float | None,
        should_stop: StopCheck,
        hook: ProgressHook,
        checkout: RepositoryCheckout | None,
    ) -> Execution:
        """Start Claude Code, make the step's input while it starts up (most of a second),
        then run the session. The input is the repository's checkout, where the workflow
        works on one, and the system prompt (the repository's instructions file, the
        conversation). A checked-out work tree holds no git directory, so the CLI's start-up
        finds nothing in it either way; any other workspace is filled before (the CLI notes
        the git repository it starts in)."""
        settings = self.settings
        provider = settings.model_provider
        tools = tuple(task.allowed_tools) or DEFAULT_TOOLS
        try:
            credentials = None
            if provider is ModelProvider.BEDROCK and settings.autodev_bedrock_role_arn:
                credentials = providers.assume_bedrock_role(
                    settings.autodev_bedrock_role_arn, f"autodev-{task.id}"
                )
            env = providers.agent_environment(
                settings,
                home=space.home,
                parent_env=os.environ,
                bedrock_credentials=credentials,
                task_id=task.id,
                workspace=space.repo,
            )
        except AutodevError as error:
            return Execution(ok=False, provider=provider.value, error=str(error), retryable=False)
        hook.update(stage=AGENT_STAGE, stage_progress=0, status_message="starting Claude Code")
        request = AgentRequest(
            prompt=task.prompt,
            cwd=space.repo,
            model=settings.autodev_model,
            allowed_tools=tools,
            max_turns=task.max_turns,
            env=env,
            timeout_seconds=task.timeout_ms / 1000,
            max_budget_usd=budget,
            stderr_path=space.root / "claude-code.stderr.log",
        )
        process = runner.start(request, containment)
        try:
            # Imported while the CLI starts up, not before: the conversation's packages are a
            # tenth of a second of a fresh worker's imports.
            from autodev.conversations.runs import agent_system_prompt

            if checkout is not None:
                workspace.check_out(space, checkout)
            # The repository's instructions file, read before the CLI has its prompt: nothing
            # in the workspace is the agent's doing yet.
            system_append = agent_system_prompt(
                _system_append(settings), workflow_id=task.workflow_id, repository=space.repo
            )
            if checkout is not None:
                # The checkout's files are the worker's: the agent's too now.
                containment.hand_over(self.root, space.root, space.repo, space.home)
        except BaseException as error:
            runner.abandon(process, containment)
            if isinstance(error, AutodevError):
                return _unprepared(provider, error)
            raise
        monitor = SessionMonitor(space.repo)
        transcript: list[dict[str, Any]] = []

        def on_event(event: dict[str, Any]) -> str | None:
            kind = event.get("type")
            if kind == "init" and task.task_token:
                # The CLI has begun its session: its first request follows, then it waits on
                # the model, while the worker makes the client the outcome goes out with.
                self._warm_up()
            elif kind == "assistant":
                # The model has answered: the CLI is up, the CPU is free.
                hook.agent_started()
            seen_messages, seen_tools = monitor.messages, sum(monitor.tool_calls.values())
            reason = monitor.observe(event)
            if len(transcript) < _TRANSCRIPT_EVENTS:
                transcript.append(event)
            self._stream(task, event, monitor, seen_messages, seen_tools, hook)
            return reason

        request = replace(request, system_append=system_append)
        outcome = runner.run_agent(request, on_event, containment, should_stop, process=process)
        execution = self._interpret(task, outcome, monitor, provider, budget)
        execution.transcript = transcript
        execution.warnings.extend(space.warnings)
        execution.workspace = str(space.repo)
        return execution

    def _warm_up(self) -> None:
        """Once per worker, as its first session begins (once the CLI's start-up, which would
        be slowed by sharing the CPU, is over): make the Step Functions client the outcome
        goes out with (an eighth of a second of CPU), which the next step of the workflow
        would otherwise wait for after this one. Begun at the model's first answer instead,
        it was still being made when a short first step ended in four of six cold runs."""
        if self._completion_warmed:
            return
        self._completion_warmed = True
        threading.Thread(target=_completion_client, name="warm-up", daemon=True).start()

    def _budget(self, task: ClaimedTask) -> float | None:
        budget = task.budget_usd
        if task.workflow_id:
            # Imported here, in the background while the workspace is made, not with the
            # worker: the workflows' records and models are 8 ms of its start-up.
            from autodev.workflows.records import workflow_budget

            try:
                left = workflow_budget(task.workflow_id).left_usd
            except NotFound:
                left = None  # a task outside any recorded workflow has only its own budget
            if left is not None:
                budget = left if budget is None else min(budget, left)
        return budget

    def _stream(
        self,
        task: ClaimedTask,
        event: dict[str, Any],
        monitor: SessionMonitor,
        seen_messages: int,
        seen_tools: int,
        hook: ProgressHook,
    ) -> None:
        dims = {"task_id": task.id, "worker": self.worker_id, "step": task.step_name}
        rows: list[metrics.Metric] = []
        if event.get("type") == "assistant":
            if monitor.messages > seen_messages:
                usage = event.get("usage") or {}
                tokens = sum(
                    int(usage.get(key) or 0)
                    for key in (
                        "input_tokens",
                        "output_tokens",
                        "cache_read_input_tokens",
                        "cache_creation_input_tokens",
                    )
                )
                rows.append(("orchestrator.task.tokens", tokens, "Count", dims))
            for use in event.get("tool_uses") or []:
                rows.append(
                    ("orchestrator.task.tool_use", 1, "Count", {**dims, "tool": use.get("name")})
                )
        try:
            # Advisory: while the database is unreachable they are dropped, not waited for.
            if not recently_unavailable():
                metrics.record_many(rows)
        except AutodevError as error:
            log.warning("metrics of task %s not recorded: %s", task.id, error)
        if monitor.messages > seen_messages or sum(monitor.tool_calls.values()) > seen_tools:
            hook.update(
                stage_progress=min(95.0, 100.0 * monitor.turns / max(1, task.max_turns)),
                status_message=monitor.last_activity or None,
                metrics=monitor.metrics(),
            )

    def _interpret(
        self,
        task: ClaimedTask,
        outcome: AgentOutcome,
        monitor: SessionMonitor,
        provider: ModelProvider,
        budget: float | None,
    ) -> Execution:
        answer = monitor.last_text
        if monitor.result and isinstance(monitor.result.get("result"), str):
            answer = monitor.result["result"] or answer
        if provider is ModelProvider.SCRIPTED and SCRIPTED_NOTICE not in answer:
            answer = f"{SCRIPTED_NOTICE} {answer}".strip()
        execution = Execution(
            ok=False,
            summary=answer,
            usage=monitor.usage,
            model=monitor.model or self.settings.autodev_model,
            provider=provider.value,
            turns=monitor.turns,
        )
        result = outcome.result or {}
        subtype = str(result.get("subtype") or "")
        if outcome.status == "timed_out":
            execution.error, execution.error_code = outcome.stop_reason, queue.ERROR_TIMEOUT
            execution.retryable = False
        elif outcome.status == "stopped":
            execution.error = outcome.stop_reason
            execution.retryable = False
            if outcome.stop_reason and outcome.stop_reason.startswith("stopped early"):
                execution.error_code = queue.ERROR_REPEATED
        elif outcome.status == "completed" and subtype == "success" and not result.get("is_error"):
            execution.ok = True
            execution.fields = final_json_object(answer) or {}
        elif subtype == "error_max_turns":
            execution.error = f"the task reached its turn limit of {task.max_turns} turns"
            execution.error_code, execution.retryable = queue.ERROR_TURN_LIMIT, False
        elif subtype == "error_max_budget_usd":
            execution.error = (
                f"the task reached its budget of ${budget:.2f} "
                f"(spent ${monitor.usage.cost_usd:.4f})"
                if budget is not None
                else "the task reached its budget"
            )
            execution.error_code, execution.retryable = queue.ERROR_BUDGET, False
        elif outcome.status == "completed":
            details = "; ".join(str(item) for item in result.get("errors") or []) or answer
            execution.error = f"Claude Code ended with an error ({subtype}): {details}"[:2000]
        else:
            tail = outcome.stderr_tail.splitlines()[-3:] if outcome.stderr_tail else []
            execution.error = " | ".join([outcome.error or "Claude Code failed", *tail])[:2000]
        return execution
