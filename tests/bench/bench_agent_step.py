"""Step overhead: one agent step run by the worker's runner against the CLI spawned directly.

Both play the same scripted session (a Read, then an answer) against the same scripted model
server, with the same scrubbed environment, command line and user, in rounds that alternate
which goes first; each is timed from spawn to exit, and the medians are compared. The runner's
step is what the worker does for every step around the CLI: hand the workspace to the agent's
user, start the CLI (as that user, in its own session, the prompt on stdin), read and
interpret its stream of events, end whatever the session left running, take the workspace
back. Its agent guard and agent user are set up once per worker, as in the worker, outside
the rounds. The scripted model server runs in a process of its own, as on the local stack (in
this one it would take turns with the runner's threads). ``AUTODEV_BENCH_STEPS`` sets the
rounds: 12 under ``make bench``, 3 in the default suite. A median of 3 moved with the
machine: 1.27 and 1.23 in two ``make bench`` runs, against 1.006 and 1.003 in two runs of 12
rounds alone, on the same code.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autodev.config import Settings, load_settings
from autodev.models import providers
from autodev.orchestrator import claude_cli, workspace
from autodev.orchestrator.containment import Containment
from autodev.orchestrator.runner import AgentRequest, run_agent
from autodev.orchestrator.session_monitor import SessionMonitor
from tests.bench.conftest import BenchReport, bench_size
from tests.conftest import TEST_STATE_DIR

ROUNDS = bench_size("AUTODEV_BENCH_STEPS", small=3, full=12)
PROMPT = "Read the README and say what it holds."


SESSION = [
    {"text": "Reading.", "tool_calls": [{"name": "Read", "input": {"file_path": "README.md"}}]},
    {"text": "[scripted model] It says hello."},
]
_SERVER = """
import json, sys
from autodev.local.model.script import script_from_json
from autodev.local.model.server import ScriptedModelServer
server = ScriptedModelServer().start()
print(server.register(script_from_json(json.loads(sys.argv[1]))), flush=True)
sys.stdin.read()  # until the benchmark closes it
"""


@pytest.fixture
def model_url() -> Iterator[str]:
    """The URL of a scripted model server, in its own process, playing SESSION."""
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, json.dumps(SESSION)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    assert server.stdin is not None
    try:
        yield server.stdout.readline().strip()
    finally:
        server.stdin.close()
        server.wait(timeout=30)


@pytest.fixture
def bench_dir() -> Iterator[Path]:
    directory = TEST_STATE_DIR / f"bench-step-{uuid.uuid4().hex[:8]}"
    directory.mkdir(parents=True)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _request(settings: Settings, space: workspace.Workspace) -> AgentRequest:
    return AgentRequest(
        prompt=PROMPT,
        cwd=space.repo,
        model=settings.autodev_model,
        allowed_tools=("Read",),
        max_turns=5,
        env=providers.agent_environment(
            settings, home=space.home, parent_env=os.environ, task_id="bench", workspace=space.repo
        ),
        timeout_seconds=120,
        system_append="Answer briefly.",
    )


def _runner_step(settings: Settings, containment: Containment, space: workspace.Workspace) -> float:
    """What the worker's runner does for a step, around the CLI."""
    monitor = SessionMonitor(space.repo)
    began = time.perf_counter()
    containment.hand_over(settings.workspace_root, space.root, space.repo, space.home)
    outcome = run_agent(_request(settings, space), monitor.observe, containment)
    containment.take_back(space.repo, space.home)
    elapsed = time.perf_counter() - began
    assert outcome.status == "completed", outcome
    assert monitor.messages == 2
    return elapsed


def _direct_step(settings: Settings, containment: Containment, space: workspace.Workspace) -> float:
    """The baseline: the same CLI, command line, environment and user, spawned and waited for."""
    containment.hand_over(settings.workspace_root, space.root, space.repo, space.home)
    request = _request(settings, space)
    options: dict[str, Any] = containment.popen_options()
    began = time.perf_counter()
    completed = subprocess.run(
        containment.command(claude_cli.command(request.options())),
        input=claude_cli.step_input(request.prompt, request.system_append),
        capture_output=True,
        env=dict(request.env),
        cwd=request.cwd,
        start_new_session=True,
        check=True,
        **options,
    )
    elapsed = time.perf_counter() - began
    containment.take_back(space.repo, space.home)
    assert b'"subtype":"success"' in completed.stdout
    return elapsed


def test_step_overhead_against_the_cli_spawned_directly(
    bench: BenchReport, bench_dir: Path, model_url: str
) -> None:
    settings = load_settings(
        autodev_model_provider="scripted",
        autodev_scripted_model_url=model_url,
        autodev_workspace_dir=bench_dir / "workspaces",
    )
    containment = Containment.for_worker(settings)
    runner: list[float] = []
    direct: list[float] = []
    steps = [("runner", runner, _runner_step), ("direct", direct, _direct_step)]
    try:
        for number in range(ROUNDS):
            for name, timings, step in steps if number % 2 else reversed(steps):
                space = workspace.prepare(
                    settings.workspace_root,
                    f"{name}-{number}",
                    context={"files": {"README.md": "hello\n"}},
                    source=None,
                )
                timings.append(step(settings, containment, space))
    finally:
        containment.close()
    row = bench.record(
        "step overhead",
        statistics.median(runner),
        "s",
        statistics.median(direct),
        goal="<= 1.2 (the runner's step against the CLI spawned directly, spawn to exit)",
    )
    assert row.ratio > 0
