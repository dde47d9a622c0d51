"""Running a deterministic step: a tool (Code Analyzer, ``sf``) instead of Claude Code.

A task whose context names a ``tool`` (``enqueue_step`` puts it there from the template) is
run by :class:`ToolTaskRunner`: a fresh workspace as an agent step gets (the workflow's
repository checkout, or the project with earlier steps' changes applied), the tool on it, and
an outcome whose fields are what the tool said (:mod:`autodev.salesforce.steps`). No agent
runs, so nothing the step reports was written by a model. :class:`StepRunner` sends each
task to the runner of its kind.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Sequence
from typing import Any

from autodev.config import Settings
from autodev.errors import AutodevError, InvalidInput
from autodev.observability import child_logger
from autodev.orchestrator import workspace
from autodev.orchestrator.execution import Execution, StopCheck, TaskRunner
from autodev.orchestrator.progress_hook import TOOL_STAGE
from autodev.orchestrator.queue import ClaimedTask
from autodev.salesforce.errors import ToolTimedOut

log = child_logger(__name__)

PROVIDER = "tool"

Patches = Callable[[ClaimedTask], Sequence[tuple[str, str]]]


class ToolTaskRunner:
    name = "tool"

    def __init__(self, settings: Settings, patches: Patches | None = None) -> None:
        self.settings = settings
        self.patches = patches or (lambda task: ())

    def execute(self, task: ClaimedTask, should_stop: StopCheck, progress: Any) -> Execution:
        from autodev.repos.checkout import RepositoryCheckout

        checkout = RepositoryCheckout.for_task(task, self.settings)
        try:
            return self._execute(task, progress, checkout)
        finally:
            if checkout is not None:
                checkout.close()

    def _execute(self, task: ClaimedTask, progress: Any, checkout: Any) -> Execution:
        from autodev.salesforce.steps import run_tool
        from autodev.workflows.catalog import get_template

        tool = str(task.context.get("tool") or "")
        options = task.context.get("tool_options") or {}
        given = dict(task.context.get("input") or {})
        template = task.context.get("template")
        if isinstance(template, str):
            # A state machine outside the catalog: its input as given.
            with contextlib.suppress(AutodevError):
                given = get_template(template).with_defaults(given)
        try:
            space = workspace.prepare(
                self.settings.workspace_root,
                f"{task.id}-{task.attempts}",
                context=task.context,
                source=self.settings.autodev_sfdx_repo,
                patches=self.patches(task) if checkout is None else (),
                checkout=checkout,
            )
        except AutodevError as error:
            retryable = bool(getattr(error, "retryable", True))
            return Execution(ok=False, provider=PROVIDER, error=str(error), retryable=retryable)
        progress.update(stage=TOOL_STAGE, stage_progress=0, status_message=f"running {tool}")
        try:
            outcome = run_tool(
                tool,
                options if isinstance(options, dict) else {},
                given,
                task.context.get("steps") or {},
                space.repo,
                self.settings,
                space.root,
            )
        except ToolTimedOut as error:
            return Execution(ok=False, provider=PROVIDER, error=str(error), retryable=True)
        except (AutodevError, InvalidInput) as error:
            # The tool could not answer (no such org, a crash, bad input): the step fails with
            # the reason, and trying again would not change it.
            log.warning("tool step %s (%s) could not run: %s", task.step_name, tool, error)
            return Execution(ok=False, provider=PROVIDER, error=str(error), retryable=False)
        finally:
            shutil.rmtree(space.root, ignore_errors=True)
        log.info("tool step finished", extra={"tool": tool, "passed": outcome.passed})
        return Execution(
            ok=True,
            summary=outcome.report,
            fields=outcome.result_fields(),
            provider=PROVIDER,
            model=None,
        )


class StepRunner:
    """Sends a task to the tool runner when its context names a tool, else to the agent's."""

    name = "steps"

    def __init__(self, agent: TaskRunner, tools: ToolTaskRunner) -> None:
        self.agent = agent
        self.tools = tools

    def _runner_for(self, task: ClaimedTask) -> TaskRunner:
        return self.tools if task.context.get("tool") else self.agent

    def execute(self, task: ClaimedTask, should_stop: StopCheck, progress: Any) -> Execution:
        return self._runner_for(task).execute(task, should_stop, progress)

    def reports_agent_start(self, task: ClaimedTask) -> bool:
        """Whether running ``task`` starts an agent that reports its start (the tool runner
        starts none, and says nothing)."""
        reports = getattr(self._runner_for(task), "reports_agent_start", None)
        return bool(callable(reports) and reports(task))

    def prepare(self) -> None:
        prepare = getattr(self.agent, "prepare", None)
        if callable(prepare):
            prepare()

    def close(self) -> None:
        close = getattr(self.agent, "close", None)
        if callable(close):
            close()
