"""Latency of whole workflows on the local stack, each against a floor measured in the same run.

Everything is real except the model: signed Slack commands through the loopback gateway, the
Slack handlers and worker, moto's Step Functions interpreter, worker processes started by the
scaler, and the Claude Code CLI on the stack's scripted model server, which notes when each
task's first turn is asked for. Rows:

- "first model request (cold)": ``/workflow start bug-fix ...`` sent, no worker running, until
  the model's first request of the workflow's first task; floor: the worker's import (a fresh
  interpreter importing what a worker imports) plus the CLI spawned directly to its first
  request (same CLI, scrubbed environment, user and server).
- "first model request (warm)": the same with workers up and idle; floor: the CLI alone.
- "bug-fix wall": a bug-fix's execution, start to end, against the sum of its tasks' own run
  times (claimed to finished); the median of the cold and the warm runs, with each kind's own
  median beside it as context (a cold run's first task waits for the worker's start-up).
- "parallel": code-review's Parallel state, entered to exited, against its longest branch
  (its Task state, entered to exited), with workers already up.

These start dozens of processes and take minutes, so they run under ``make bench`` only
(``AUTODEV_BENCH_FULL=1``); ``AUTODEV_BENCH_WORKFLOW_RUNS`` sets the rounds (default 12: with
5, a row's median moved by 0.05-0.1 between runs of the same code; with 8, as issue 18
measured, the warm row still moved by 0.07, 1.17 to 1.24, while a single round of it, or of its
floor, ranges over a factor of two).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from autodev.config import get_settings, load_settings
from autodev.db import connection
from autodev.local import LocalStack, default_services
from autodev.local.model.script import script_from_json
from autodev.local.model.server import ScriptedModelServer
from autodev.local.slack.sender import SlackSender
from autodev.local.slack.services import GATEWAY_URL_ENV, SINK_URL_ENV
from autodev.local.slack.sink import RemoteSink
from autodev.local.testing import wait_for, wait_until_finished
from autodev.orchestrator import claude_cli, workspace
from autodev.orchestrator.containment import Containment
from autodev.orchestrator.launchers import LocalProcessLauncher
from autodev.workflows.sfn import sfn
from tests.bench.bench_agent_step import SESSION, _request
from tests.bench.conftest import BenchReport, bench_size
from tests.conftest import TEST_STATE_DIR

pytestmark = pytest.mark.skipif(
    os.environ.get("AUTODEV_BENCH_FULL") != "1",
    reason="whole workflows on the local stack: make bench only (AUTODEV_BENCH_FULL=1)",
)

SECRET = "bench-workflow-signing-secret-0123"
CHANNEL = "CBENCH"
BUG_FIX = (
    '/workflow start bug-fix description="AccountTrigger throws a NullPointerException on'
    ' bulk insert" component=AccountTrigger repo=examples'
)
CODE_REVIEW = (
    '/workflow start code-review target=force-app focus="security, performance and quality"'
    " repo=examples"
)
BRANCHES = ("Security review", "Performance review", "Quality review")
_WORKER_IMPORT = """
import importlib.util, json, time
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("worker_main", {main!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
import autodev.config, autodev.observability, autodev.orchestrator.parent_watch
import autodev.orchestrator.worker, autodev.orchestrator.claude_task
print(json.dumps(time.perf_counter() - start))
"""


@pytest.fixture
def stack(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    from autodev.cli.demo import _register_demo_repository

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "3000")
    get_settings.cache_clear()
    with LocalStack(services=default_services()) as running:
        _register_demo_repository(get_settings().autodev_state_dir.resolve())
        yield running
    get_settings.cache_clear()


def _model(stack: LocalStack) -> ScriptedModelServer:
    server = stack.service("scripted-model")
    assert isinstance(server, ScriptedModelServer)
    return server


# How often the bench looks at a running workflow (its reply in Slack, its row). It reads the
# times it reports afterwards, from the model server's notes and the execution's history, so
# looking seldom costs it nothing; looking every 50 ms, as it did, put a query and a call
# through the stack (which shares this process) into the very second it times.
_LOOK_SECONDS = 0.5


def _start(sender: SlackSender, sink: RemoteSink, command: str) -> tuple[float, str]:
    """Send the command; when it was sent (time.time()) and the workflow's id."""
    sent = time.time()
    answer, key = sender.command(command)
    assert answer.status == 200, answer.body

    def started() -> str | None:
        for call in sink.calls("response_url"):
            if call.key == key:
                match = re.search(r"id `([0-9a-f-]{36})`", call.text)
                assert match, call.text
                return match.group(1)
        return None

    workflow_id: str = wait_for(
        started, timeout=60, interval=_LOOK_SECONDS, what="the workflow's start in Slack"
    )
    return sent, workflow_id


def _first_request_at(stack: LocalStack, workflow_id: str) -> float:
    """When the model server saw the first request of the workflow's first task (read once the
    workflow has ended)."""
    with connection() as conn:
        row = conn.execute(
            "SELECT id::text FROM autonomous_tasks WHERE workflow_id = %s"
            " ORDER BY created_at LIMIT 1",
            (workflow_id,),
        ).fetchone()
    assert row is not None, f"workflow {workflow_id} queued no task"
    stats = _model(stack).task_stats(row["id"])
    assert stats is not None, f"no model request named task {row['id']}"
    assert stats.first_request_at is not None, stats
    return stats.first_request_at


def _history(workflow_id: str) -> list[dict[str, Any]]:
    status = wait_until_finished(workflow_id, timeout=300, interval=_LOOK_SECONDS)
    assert status.status == "succeeded", (status.status, status.cause)
    assert status.execution_arn is not None
    events: list[dict[str, Any]] = []
    pages = sfn().get_paginator("get_execution_history")
    for page in pages.paginate(executionArn=status.execution_arn):
        events += page["events"]
    return events


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def _wall_against_tasks(workflow_id: str) -> tuple[float, float]:
    events = _history(workflow_id)
    wall = _seconds(events[-1]["timestamp"], events[0]["timestamp"])
    with connection() as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM finished_at - claimed_at) AS seconds"
            " FROM autonomous_tasks WHERE workflow_id = %s",
            (workflow_id,),
        ).fetchall()
    return wall, sum(float(row["seconds"]) for row in rows)


def _median_run(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The (measured, baseline) pair whose ratio is the median (the upper one of an even
    count)."""
    return sorted(runs, key=lambda run: run[0] / run[1])[len(runs) // 2]


def _parallel_against_branches(workflow_id: str) -> tuple[float, float]:
    entered: dict[str, datetime] = {}
    spans: dict[str, float] = {}
    for event in _history(workflow_id):
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails")
        if not details:
            continue
        name = details["name"]
        if event["type"].endswith("Entered"):
            entered[name] = event["timestamp"]
        elif name in entered:
            spans[name] = _seconds(event["timestamp"], entered[name])
    parallel = spans["Run reviews in parallel"]
    return parallel, max(spans[branch] for branch in BRANCHES)


def _workers_gone(launcher: LocalProcessLauncher) -> None:
    wait_for(lambda: launcher.running() == 0, timeout=120, interval=0.2, what="idle workers")


def _worker_import() -> float:
    main = Path(__file__).resolve().parents[2] / "functions" / "claude_worker" / "main.py"
    done = subprocess.run(
        [sys.executable, "-c", _WORKER_IMPORT.format(main=str(main))],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def _cli_to_first_request(server: ScriptedModelServer, containment: Containment) -> float:
    """The floor: the CLI the worker starts, spawned directly, to its first model request."""
    url = server.register(script_from_json(SESSION))
    settings = load_settings(
        autodev_model_provider="scripted",
        autodev_scripted_model_url=url,
        autodev_workspace_dir=TEST_STATE_DIR / "bench-workflows" / "workspaces",
    )
    space = workspace.prepare(
        settings.workspace_root,
        f"direct-{uuid.uuid4().hex[:8]}",
        context={"files": {"README.md": "hello\n"}},
        source=None,
    )
    containment.hand_over(settings.workspace_root, space.root, space.repo, space.home)
    request = _request(settings, space)
    began = time.time()
    process = subprocess.Popen(
        containment.command(claude_cli.command(request.options())),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(request.env),
        cwd=request.cwd,
        start_new_session=True,
        **containment.popen_options(),
    )
    assert process.stdin is not None
    process.stdin.write(claude_cli.step_input(request.prompt, request.system_append))
    process.stdin.close()
    # Read once the session is over, like the product's: nothing here polls while it starts.
    process.wait(timeout=120)
    containment.take_back(space.repo, space.home)
    stats = server.unregister(url)
    assert stats is not None, "the model server lost the session"
    assert stats.first_request_at is not None, stats
    return stats.first_request_at - began


def test_slack_command_to_first_model_request_and_workflow_walls(
    stack: LocalStack, bench: BenchReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    rounds = bench_size("AUTODEV_BENCH_WORKFLOW_RUNS", small=1, full=12)
    sender = SlackSender(SECRET, os.environ[GATEWAY_URL_ENV], channel_id=CHANNEL)
    sink = RemoteSink(os.environ[SINK_URL_ENV])
    launcher = LocalProcessLauncher(get_settings())
    server = _model(stack)

    # Each measurement is taken right after its floor, under the same load: the machine's
    # speed drifts over a run (the CLI alone took 0.40 to 0.58 s from one run to the next).
    floors_import: list[float] = []
    floors_cli_cold: list[float] = []
    floors_cli_warm: list[float] = []
    containment = Containment.for_worker(get_settings())
    try:
        # Cold: no worker up when the command is sent (they leave 3 s after the queue empties).
        cold: list[float] = []
        walls: list[tuple[float, float]] = []
        cold_walls: list[tuple[float, float]] = []
        for _ in range(rounds):
            _workers_gone(launcher)
            floors_import.append(_worker_import())
            floors_cli_cold.append(_cli_to_first_request(server, containment))
            sent, workflow_id = _start(sender, sink, BUG_FIX)
            cold_walls.append(_wall_against_tasks(workflow_id))
            cold.append(_first_request_at(stack, workflow_id) - sent)
        walls += cold_walls

        # Warm: workers stay up; one code-review starts them, the next ones meet them idle.
        monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "300000")
        get_settings.cache_clear()
        _history(_start(sender, sink, CODE_REVIEW)[1])
        warm: list[float] = []
        parallels: list[tuple[float, float]] = []
        for _ in range(rounds):
            floors_cli_warm.append(_cli_to_first_request(server, containment))
            sent, workflow_id = _start(sender, sink, BUG_FIX)
            walls.append(_wall_against_tasks(workflow_id))
            warm.append(_first_request_at(stack, workflow_id) - sent)
            parallels.append(_parallel_against_branches(_start(sender, sink, CODE_REVIEW)[1]))
    finally:
        containment.close()

    worker_import = statistics.median(floors_import)
    cli = statistics.median(floors_cli_cold)
    bench.record(
        "first model request (cold)",
        round(statistics.median(cold), 3),
        "s, Slack command to the model's first request vs worker import + CLI to its first",
        round(worker_import + cli, 3),
        goal="<= 1.2",
    )
    bench.record(
        "first model request (warm)",
        round(statistics.median(warm), 3),
        "s, Slack command to the model's first request vs the CLI to its first",
        round(statistics.median(floors_cli_warm), 3),
        goal="<= 1.2",
    )
    middle = _median_run(walls)
    bench.record(
        "bug-fix wall",
        round(middle[0], 2),
        "s, execution start to end vs the sum of its tasks' run times (median run)",
        round(middle[1], 2),
        goal="<= 1.15",
    )
    for kind, runs in (("cold", cold_walls), ("warm", walls[len(cold_walls) :])):
        middle = _median_run(runs)
        bench.record(
            f"bug-fix wall ({kind} runs)",
            round(middle[0], 2),
            "s, as above, the median of these runs only",
            round(middle[1], 2),
            goal="context: a cold run's first task waits for the worker's start-up",
        )
    middle = _median_run(parallels)
    bench.record(
        "parallel",
        round(middle[0], 2),
        "s, code-review's Parallel state vs its longest branch (median run)",
        round(middle[1], 2),
        goal="<= 1.05",
    )
