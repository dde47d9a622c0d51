"""Run one Claude Code session in its own process group, under a deadline.

The session runs in ``agent_process`` (a child Python process with a scrubbed environment),
which runs the CLI in turn; both share a new process group, so ending the session at its
deadline, or when the worker loses its lease, is one ``killpg``. Events stream back one JSON
line at a time and are handed to the caller as they come; the caller may stop the session
after any event (a budget reached, an error repeated).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# How long the session gets to stop after SIGTERM before SIGKILL.
_TERM_GRACE_SECONDS = 3.0


@dataclass(frozen=True)
class AgentRequest:
    prompt: str
    cwd: Path
    model: str
    allowed_tools: Sequence[str]
    max_turns: int
    env: Mapping[str, str]
    timeout_seconds: float
    max_budget_usd: float | None = None
    system_append: str = ""
    stderr_path: Path | None = None


@dataclass
class AgentOutcome:
    """How the session ended: ``completed`` (the CLI reported a result), ``timed_out``,
    ``stopped`` (the caller stopped it, with ``stop_reason``) or ``crashed``."""

    status: str
    result: dict[str, Any] | None = None
    stop_reason: str | None = None
    error: str | None = None
    exit_code: int | None = None
    pid: int | None = None
    events: int = 0
    stderr_tail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def base_tool_names(allowed: Sequence[str]) -> list[str]:
    """``Bash(sf apex run test:*)`` -> ``Bash``: the tools to offer, from the permission rules."""
    names: list[str] = []
    for rule in allowed:
        name = rule.split("(", 1)[0].strip()
        if name and name not in names:
            names.append(name)
    return names


def kill_tree(process: subprocess.Popen[bytes], grace: float = _TERM_GRACE_SECONDS) -> None:
    """End the session and everything it started: SIGTERM, then SIGKILL after ``grace``.

    Claude Code runs each Bash command in a session of its own, so the process group is not
    enough: the tree is taken from the process table before anything is signalled (once the
    CLI is gone its children are re-parented and can no longer be found from it).
    """
    import psutil

    try:
        root = psutil.Process(process.pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    for member in tree:
        with contextlib.suppress(psutil.Error):
            member.terminate()
    _, alive = psutil.wait_procs(tree, timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    for member in alive:
        with contextlib.suppress(psutil.Error):
            member.kill()
    psutil.wait_procs(alive, timeout=5)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _tail(path: Path | None, limit: int = 2000) -> str:
    if path is None or not path.exists():
        return ""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - limit))
        return handle.read().decode(errors="replace").strip()


def run_agent(
    request: AgentRequest,
    on_event: Callable[[dict[str, Any]], str | None],
    should_stop: Callable[[], str | None] = lambda: None,
) -> AgentOutcome:
    """Run the session; ``on_event`` and ``should_stop`` return a reason to stop it early."""
    payload = {
        "prompt": request.prompt,
        "cwd": str(request.cwd),
        "model": request.model,
        "allowed_tools": list(request.allowed_tools),
        "max_turns": request.max_turns,
        "max_budget_usd": request.max_budget_usd,
        "system_append": request.system_append,
    }
    stderr_target: Any = subprocess.DEVNULL
    if request.stderr_path is not None:
        request.stderr_path.parent.mkdir(parents=True, exist_ok=True)
        stderr_target = request.stderr_path.open("ab")
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "autodev.orchestrator.agent_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr_target,
            env=dict(request.env),
            cwd=request.cwd,
            start_new_session=True,
        )
    finally:
        if stderr_target is not subprocess.DEVNULL:
            stderr_target.close()
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(json.dumps(payload).encode())
    process.stdin.close()

    lines: queue.Queue[bytes | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, name="agent-events", daemon=True)
    reader.start()
    outcome = AgentOutcome(status="crashed", pid=process.pid)
    deadline = time.monotonic() + request.timeout_seconds
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                outcome.status = "timed_out"
                outcome.stop_reason = (
                    f"the task timed out after {request.timeout_seconds:g} s and Claude Code "
                    "was stopped"
                )
                kill_tree(process)
                break
            reason = should_stop()
            if reason:
                outcome.status, outcome.stop_reason = "stopped", reason
                kill_tree(process)
                break
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                break
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # not an event (a stray print); ignore it
            outcome.events += 1
            if event.get("type") == "result":
                outcome.result = event
                outcome.status = "completed"
            elif event.get("type") == "error":
                outcome.error = str(event.get("message"))
            reason = on_event(event)
            if reason:
                outcome.status, outcome.stop_reason = "stopped", reason
                kill_tree(process)
                break
    finally:
        if process.poll() is None:
            try:
                outcome.exit_code = process.wait(
                    timeout=10 if outcome.status == "completed" else 0.1
                )
            except subprocess.TimeoutExpired:
                kill_tree(process)
        outcome.exit_code = process.poll()
        reader.join(timeout=5)
    if outcome.status == "crashed" and outcome.error is None:
        outcome.error = f"Claude Code ended without a result (exit code {outcome.exit_code})"
    outcome.stderr_tail = _tail(request.stderr_path)
    return outcome
