"""What running a task produced, and the compact result a workflow receives.

A result is what SendTaskSuccess carries to the workflow (and what ``autonomous_tasks.result``
keeps): under 256 KB, always. The structured fields of the agent's answer (``{"passed":
true}``) come first, at the top, where the workflow's choices read them; then autodev's own
fields. Large things (the diff, a long report, the transcript) are artifacts in
``task_results``, referenced by id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from autodev.orchestrator import queue
from autodev.orchestrator.queue import ClaimedTask
from autodev.orchestrator.session_monitor import Usage

MAX_SUMMARY_CHARS = 16_000
# Well under Step Functions' 256 KB, leaving room for the fields around the summary.
MAX_RESULT_BYTES = 200_000


@dataclass
class Execution:
    """The outcome of one attempt at a task."""

    ok: bool
    summary: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    model: str | None = None
    provider: str = "none"
    turns: int = 0
    files_changed: list[str] = field(default_factory=list)
    diff: str = ""
    transcript: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    workspace: str | None = None
    # What the step pushed to its workflow's repository (autodev.repos.checkout), if anything.
    git: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_code: str = queue.ERROR_FAILED
    retryable: bool = True
    # The worker lost its lease while running: someone else owns the task's outcome now.
    lease_lost: bool = False

    @property
    def scripted(self) -> bool:
        return self.provider == "scripted"


class StopCheck(Protocol):
    def __call__(self) -> str | None: ...


class TaskRunner(Protocol):
    """Runs one claimed task; never raises for the task's own failures (returns them)."""

    name: str

    def execute(self, task: ClaimedTask, should_stop: StopCheck, progress: Any) -> Execution: ...


def build_result(
    task: ClaimedTask, execution: Execution, artifacts: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The compact result JSON (always under 256 KB)."""
    summary = execution.summary
    if len(summary) > MAX_SUMMARY_CHARS:
        summary = summary[:MAX_SUMMARY_CHARS] + "… (the full text is the 'report' artifact)"
    ours: dict[str, Any] = {
        "task_id": task.id,
        "step": task.step_name,
        "task_type": task.task_type,
        "summary": summary,
        "files_changed": execution.files_changed,
        "artifacts": artifacts,
        "model": execution.model,
        "model_provider": execution.provider,
        "scripted": execution.scripted,
        "turns": execution.turns,
        "usage": execution.usage.to_json(),
        "cost_usd": round(execution.usage.cost_usd, 6),
        "attempt": task.attempts,
        "workspace": execution.workspace,
    }
    if execution.warnings:
        ours["warnings"] = execution.warnings[:20]
    if execution.git:
        ours["git"] = execution.git
    result = {**execution.fields, **ours}
    if len(json.dumps(result, default=str).encode()) > MAX_RESULT_BYTES:
        # The agent's structured fields are too large to carry: they stay in the report.
        dropped = sorted(execution.fields)
        result = {**ours, "fields_omitted": dropped[:50]}
    return result
