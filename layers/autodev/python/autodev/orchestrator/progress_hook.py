"""The one place the worker reports progress to ``autodev.progress``.

Progress is advisory: a failure to report it is logged and never fails the task. Updates are
coalesced to one every ``min_interval`` seconds, except stage changes and the final one; the
figures of an update that was coalesced away are not lost: the next update, or the final one,
carries the latest. While the database is unreachable, reports are skipped rather than each
waiting for the pool's timeout (the agent's event stream must not stall behind them).
Nothing here waits on Slack (``background_slack``): the live status message is sent by the
process's background sender, and by the delivery sweep for whatever it leaves when it exits,
so a finished task's worker goes straight back to the queue. Given ``submit`` (the worker's
background lane, one thread), reports are not even written to the database in the task's way:
they are handed to that lane and written in the order given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from autodev import progress
from autodev.db import recently_unavailable
from autodev.events import Metrics
from autodev.observability import best_effort_failed, child_logger

log = child_logger(__name__)

# A step's stages: its workspace, its work (Claude Code's session, or the tool a deterministic
# step runs), its results. The runners move to the work's stage by these names.
AGENT_STAGE = "Claude Code"
TOOL_STAGE = "Tool"
# What the hook asks ``autodev.progress`` for, by name (see ``ProgressHook._report``).
Report = Literal["start_tracking", "update_progress", "complete"]


def stages(*, tool: bool) -> list[dict[str, Any]]:
    return [
        {"name": "Workspace", "weight": 1},
        {"name": TOOL_STAGE if tool else AGENT_STAGE, "weight": 8},
        {"name": "Results", "weight": 1},
    ]


class ProgressHook:
    def __init__(
        self,
        task_id: str,
        *,
        min_interval: float = 1.0,
        submit: Callable[..., Any] | None = None,
        on_agent_started: Callable[[], None] | None = None,
    ) -> None:
        self.task_id = task_id
        self._submit = submit
        self._on_agent_started = on_agent_started
        self._min_interval = min_interval
        self._last = 0.0
        self._started = False
        # The latest cumulative figures given, sent or not (a fast session's are mostly not).
        self._figures: dict[str, Any] = {}

    def agent_started(self) -> None:
        """The runner's word that the step's agent is up (Claude Code has had the model's
        first answer): the worker's background lane, held while the agent started, goes on."""
        if self._on_agent_started is not None:
            self._on_agent_started()

    def _call(self, report: Report, *args: Any, **kwargs: Any) -> None:
        if self._submit is not None:
            self._submit(self._report, report, *args, **kwargs)
        else:
            self._report(report, *args, **kwargs)

    def _report(self, report: Report, *args: Any, **kwargs: Any) -> None:
        if recently_unavailable():
            log.debug("progress of task %s not reported: the database is unreachable", self.task_id)
            return
        try:
            # Looked up here, in the background lane: the first lookup imports the tracking
            # and its Slack rendering (``autodev.progress`` loads its names on first use), which
            # a worker then does beside its first task rather than before it.
            getattr(progress, report)(*args, **kwargs)
        except Exception:  # advisory: never let progress fail the task
            best_effort_failed("progress_report", log, task_id=self.task_id, report=report)

    def start(
        self,
        task_type: str,
        workflow_id: str | None,
        step_name: str | None,
        *,
        tool: bool = False,
    ) -> None:
        """Track the task, as a step that runs Claude Code or (``tool``) a tool."""
        self._call(
            "start_tracking",
            self.task_id,
            task_type,
            stages(tool=tool),
            workflow_id=workflow_id,
            step_name=step_name,
            status_message="preparing the workspace",
            background_slack=True,
        )
        self._started = True

    def update(
        self,
        *,
        stage: str | None = None,
        stage_progress: float | None = None,
        status_message: str | None = None,
        metrics: Mapping[str, Any] | Metrics | None = None,
    ) -> None:
        if not self._started:
            return
        self._remember(metrics)
        now = time.monotonic()
        if stage is None and now - self._last < self._min_interval:
            return
        self._last = now
        self._call(
            "update_progress",
            self.task_id,
            stage_progress=None if stage_progress is None else max(0.0, min(100.0, stage_progress)),
            status_message=status_message,
            metrics=dict(self._figures) or None,
            stage=stage,
            background_slack=True,
        )

    def finish(
        self, ok: bool, message: str, metrics: Mapping[str, Any] | Metrics | None = None
    ) -> None:
        if not self._started:
            return
        self._remember(metrics)
        self._call(
            "complete",
            self.task_id,
            status="completed" if ok else "failed",
            status_message=message[:500],
            metrics=dict(self._figures) or None,
            background_slack=True,
        )

    def _remember(self, metrics: Mapping[str, Any] | Metrics | None) -> None:
        if isinstance(metrics, Metrics):
            self._figures.update(metrics.model_dump())
        elif metrics:
            self._figures.update(metrics)
