"""Run one Claude Code session, contained, under a deadline, streaming its events.

The worker starts the CLI bundled in claude-agent-sdk directly (``claude_cli``): with the
scrubbed environment it is given (``autodev.models.providers``), in a new process group and
session, as the worker's agent user (``containment``), with the step's system prompt and
prompt on its stdin (``claude_cli.step_input``). A caller may ``start`` the CLI before the
step's input is ready and hand the process to ``run_agent`` (``abandon`` it if the step cannot
go on): its start-up then overlaps the caller's preparations. The CLI prints one JSON message
a line; each becomes the worker's events, handed to the caller as they come, and the caller
may stop the session after any of them (a budget reached, an error repeated). At the deadline,
when the caller stops it, and after it ends, every process of the session is ended, including
what it started in sessions of its own.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autodev.child_exit import ended_within
from autodev.orchestrator import claude_cli
from autodev.orchestrator.claude_cli import SessionOptions
from autodev.orchestrator.containment import Containment

# How long the session gets to stop after SIGTERM before SIGKILL.
TERM_GRACE_SECONDS = 3.0
# How long a session that reported its result gets to exit by itself.
_EXIT_GRACE_SECONDS = 10.0


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

    def options(self) -> SessionOptions:
        return SessionOptions(
            model=self.model,
            allowed_tools=tuple(self.allowed_tools),
            max_turns=self.max_turns,
            max_budget_usd=self.max_budget_usd,
        )


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


def _tail(path: Path | None, limit: int = 2000) -> str:
    if path is None or not path.exists():
        return ""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - limit))
        return handle.read().decode(errors="replace").strip()


def start(request: AgentRequest, containment: Containment) -> subprocess.Popen[bytes]:
    """Start the CLI for ``request``'s options; its stdin is left open for the step's input,
    which ``run_agent`` writes (``request.prompt`` and ``request.system_append`` are not read
    here, so they may still be unknown)."""
    stderr_target: Any = subprocess.DEVNULL
    if request.stderr_path is not None:
        request.stderr_path.parent.mkdir(parents=True, exist_ok=True)
        stderr_target = request.stderr_path.open("ab")
    try:
        process = subprocess.Popen(
            containment.command(claude_cli.command(request.options())),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr_target,
            env=dict(request.env),
            cwd=request.cwd,
            start_new_session=True,
            **containment.popen_options(),
        )
    finally:
        if stderr_target is not subprocess.DEVNULL:
            stderr_target.close()
    containment.started(process.pid)
    return process


def run_agent(
    request: AgentRequest,
    on_event: Callable[[dict[str, Any]], str | None],
    containment: Containment,
    should_stop: Callable[[], str | None] = lambda: None,
    process: subprocess.Popen[bytes] | None = None,
) -> AgentOutcome:
    """Run the session; ``on_event`` and ``should_stop`` return a reason to stop it early.
    ``process`` is the CLI ``start`` started for ``request`` ahead of time, else it is started
    now."""
    if process is None:
        process = start(request, containment)
    assert process.stdin is not None
    assert process.stdout is not None
    lines: queue.Queue[bytes | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, name="agent-events", daemon=True)
    reader.start()
    # The prompt goes in on stdin (never on the command line, which other users can read).
    with contextlib.suppress(BrokenPipeError):
        process.stdin.write(claude_cli.step_input(request.prompt, request.system_append))
    with contextlib.suppress(BrokenPipeError):
        process.stdin.close()

    outcome = AgentOutcome(status="crashed", pid=process.pid)
    output_ended = False
    deadline = time.monotonic() + request.timeout_seconds

    def stop(status: str, reason: str) -> None:
        outcome.status, outcome.stop_reason = status, reason
        containment.stop(process, TERM_GRACE_SECONDS)

    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stop(
                    "timed_out",
                    f"the task timed out after {request.timeout_seconds:g} s and Claude Code "
                    "was stopped",
                )
                break
            reason = should_stop()
            if reason:
                stop("stopped", reason)
                break
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                output_ended = True
                break
            message = claude_cli.parse_line(line)
            if message is None:
                continue  # not a message (a stray print); ignore it
            for event in claude_cli.events(message):
                outcome.events += 1
                if event["type"] == "result":
                    outcome.result = event
                    outcome.status = "completed"
                reason = on_event(event)
                if reason:
                    stop("stopped", reason)
                    break
            if outcome.stop_reason:
                break
    finally:
        # A CLI that closed its output is exiting; anything else is ended now.
        if not ended_within(process, _EXIT_GRACE_SECONDS if output_ended else 0):
            containment.stop(process, TERM_GRACE_SECONDS)
        outcome.exit_code = process.poll()
        containment.finished(process.pid)
        # Whatever the session started and left running (a background command) ends with it.
        containment.sweep()
        reader.join(timeout=5)
    if outcome.status == "crashed":
        outcome.error = f"Claude Code ended without a result (exit code {outcome.exit_code})"
    outcome.stderr_tail = _tail(request.stderr_path)
    return outcome


def abandon(process: subprocess.Popen[bytes], containment: Containment) -> None:
    """End a CLI ``start`` started for a step that will not run (its workspace could not be
    filled), with whatever it started."""
    with contextlib.suppress(OSError):
        if process.stdin is not None:
            process.stdin.close()
    containment.stop(process, TERM_GRACE_SECONDS)
    containment.finished(process.pid)
    containment.sweep()
    if process.stdout is not None:
        process.stdout.close()
