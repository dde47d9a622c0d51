"""``AUTODEV_STATE_DIR/local.json``: where the background local stack is, for other processes.

It holds the stack process's pid, its endpoint and the environment it exports (fake AWS
credentials, endpoint, names); never a secret or a database password.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from autodev.aws import reset_clients
from autodev.config import get_settings

STATE_FILE = "local.json"
# Who may approve and administer is the stack's to say (as a deployment's is in AWS): its
# values, which include the ones its starter configured, win over this process's.
STACK_DECIDES = frozenset({"APPROVERS", "APPROVER_GROUP", "ADMINS"})


def state_path(state_dir: Path | None = None) -> Path:
    return (state_dir or get_settings().autodev_state_dir).resolve() / STATE_FILE


def read_state(state_dir: Path | None = None) -> dict[str, Any] | None:
    try:
        data = json.loads(state_path(state_dir).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_state(data: dict[str, Any], state_dir: Path | None = None) -> Path:
    path = state_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2, default=str))
    temporary.replace(path)  # readers never see half a file
    return path


def remove_state(state_dir: Path | None = None) -> None:
    state_path(state_dir).unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_state(state_dir: Path | None = None) -> dict[str, Any] | None:
    """The state of a background stack that is up, or None."""
    data = read_state(state_dir)
    if data is None or not data.get("ready") or not pid_alive(int(data.get("pid", 0))):
        return None
    return data


def activate(state_dir: Path | None = None) -> bool:
    """Point this process at the background local stack, if one runs and no endpoint is set.

    Sets the stack's exported environment (endpoint, fake credentials, region, function and
    state machine names, and its approvers and admins) unless AWS_ENDPOINT_URL is already set;
    returns whether it did.
    """
    if os.environ.get("AWS_ENDPOINT_URL"):
        return False
    data = running_state(state_dir)
    if data is None:
        return False
    for name, value in dict(data.get("env", {})).items():
        if name == "MOTO_PORT":
            continue  # only the stack's own process needs it
        if name in STACK_DECIDES:
            os.environ[name] = str(value)
        else:
            os.environ.setdefault(name, str(value))
    reset_clients()
    get_settings.cache_clear()
    return True
