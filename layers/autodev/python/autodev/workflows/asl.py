"""The state machine definitions in ``statemachines/<template>.asl.json`` and their substitutions.

Every file is valid JSON as committed. A ``${Name}`` placeholder is filled by
:func:`render_definition`, which infra/ and the local engine both call, so the two can never
disagree:

- a JSON string that is exactly ``"${Name}"`` becomes the value as a JSON value: a number for
  the numeric substitutions (``"TimeoutSeconds": "${TaskTimeoutSeconds}"`` becomes
  ``"TimeoutSeconds": 1800``), a string for the ARNs;
- a placeholder inside a longer string is replaced by the value's text.

A placeholder without a value is an error that names it; nothing is left half-filled.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from autodev.config import Settings
from autodev.errors import AutodevError

# layers/autodev/python/autodev/workflows/asl.py -> the repository root is five levels up
# (in a Lambda layer, /opt/python/autodev/..., there is no repository: nothing reads it there).
_HERE = Path(__file__).resolve()
REPO_ROOT = _HERE.parents[5] if len(_HERE.parents) > 5 else _HERE.parent
STATEMACHINES_DIR = REPO_ROOT / "statemachines"

# The Lambda functions the definitions call, by folder under functions/.
STATE_MACHINE_FUNCTIONS = (
    "workflow_started",
    "enqueue_task",
    "request_approval",
    "workflow_finished",
    "scheduled_run",
)

# The states a scheduled run passes before its workflow exists (EventBridge Scheduler starts
# the state machine with the schedule's id): their endings have no outcome to record.
SCHEDULED_RUN_STATES = frozenset(
    {
        "Scheduled run?",
        "Register the scheduled run",
        "Run it?",
        "Nothing to run",
        "Scheduled run not started",
    }
)

NUMERIC_SUBSTITUTIONS = frozenset(
    {
        "TaskTimeoutSeconds",
        "HeartbeatSeconds",
        "ApprovalTimeoutSeconds",
        "WorkflowTimeoutSeconds",
        "MaxFixAttempts",
        "MapMaxConcurrency",
    }
)

_PLACEHOLDER = re.compile(
    r'"\$\{(?P<whole>[A-Za-z][A-Za-z0-9]*)\}"|\$\{(?P<inner>[A-Za-z][A-Za-z0-9]*)\}'
)


class DefinitionError(AutodevError):
    """A state machine definition cannot be loaded or rendered."""


def function_substitution(folder: str) -> str:
    """``enqueue_task`` -> ``EnqueueTaskFunctionArn``, the placeholder for its ARN."""
    return "".join(part.capitalize() for part in folder.split("_")) + "FunctionArn"


def definition_path(template: str, directory: Path = STATEMACHINES_DIR) -> Path:
    return directory / f"{template}.asl.json"


def template_names(directory: Path = STATEMACHINES_DIR) -> list[str]:
    return sorted(p.name.removesuffix(".asl.json") for p in directory.glob("*.asl.json"))


def load_definition(template: str, directory: Path = STATEMACHINES_DIR) -> str:
    """The definition's text, with its placeholders."""
    path = definition_path(template, directory)
    try:
        return path.read_text()
    except FileNotFoundError:
        raise DefinitionError(f"no state machine definition {path.name} in {directory}") from None


def placeholders(text: str) -> set[str]:
    """Every ``${Name}`` the text uses."""
    return {m["whole"] or m["inner"] for m in _PLACEHOLDER.finditer(text)}


def default_substitutions(settings: Settings) -> dict[str, int]:
    """The numeric substitutions from the settings (seconds, counts)."""
    task_timeout = settings.orchestrator_timeout_seconds
    heartbeat = settings.workflow_heartbeat_seconds
    if heartbeat >= task_timeout:
        raise DefinitionError(
            f"WORKFLOW_HEARTBEAT_SECONDS ({heartbeat}) must be below ORCHESTRATOR_TIMEOUT "
            f"in seconds ({task_timeout}): Step Functions requires the heartbeat to be shorter"
        )
    return {
        "TaskTimeoutSeconds": task_timeout,
        "HeartbeatSeconds": heartbeat,
        "ApprovalTimeoutSeconds": settings.approval_timeout_seconds,
        "WorkflowTimeoutSeconds": settings.workflow_timeout_seconds,
        "MaxFixAttempts": settings.bugfix_max_fix_attempts,
        "MapMaxConcurrency": settings.workflow_map_concurrency,
    }


def render_definition(text: str, substitutions: Mapping[str, str | int]) -> str:
    """Fill every placeholder; raise DefinitionError naming any without a value.

    Values are inserted in one pass, so a value that itself looks like ``${...}`` (a CDK token)
    is left alone.
    """
    missing = sorted(placeholders(text) - substitutions.keys())
    if missing:
        raise DefinitionError(f"no value for the substitution(s) {', '.join(missing)}")
    for name in NUMERIC_SUBSTITUTIONS & substitutions.keys():
        value = substitutions[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise DefinitionError(f"{name} must be a whole number above 0, not {value!r}")

    def fill(match: re.Match[str]) -> str:
        if match["whole"] is not None:
            value = substitutions[match["whole"]]
            return str(value) if match["whole"] in NUMERIC_SUBSTITUTIONS else json.dumps(value)
        # Inside a longer JSON string: insert the text, escaped for a JSON string.
        return json.dumps(str(substitutions[match["inner"]]))[1:-1]

    return _PLACEHOLDER.sub(fill, text)
