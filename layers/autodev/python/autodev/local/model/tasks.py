"""A task's scripted session, built from the task (by its id) and the workspace it runs in.

The script is what the worker used to build in-process: the session the task supplies
(``context["scripted_session"]``, with ``{workspace}`` filled in), else the one
``sessions.session_for`` makes of the step, the prompt, the tools and the workspace's files.
"""

from __future__ import annotations

from pathlib import Path

from autodev.errors import InvalidInput
from autodev.local.model import sessions
from autodev.local.model.script import Script, script_from_json
from autodev.orchestrator.claude_task import DEFAULT_TOOLS
from autodev.orchestrator.task_specs import task_spec


def script_for_task(task_id: str, workspace: Path) -> Script:
    if not workspace.is_dir():
        raise InvalidInput(f"the workspace {workspace} is not a directory")
    spec = task_spec(task_id)
    custom = spec.context.get("scripted_session")
    if custom is not None:
        return script_from_json(custom, name="task-supplied").substitute(
            {"workspace": str(workspace)}
        )
    return sessions.session_for(
        step=str(spec.context.get("step") or spec.step_name or ""),
        task_type=spec.task_type,
        prompt=spec.prompt,
        workspace=workspace,
        allowed_tools=tuple(spec.allowed_tools) or DEFAULT_TOOLS,
    )
