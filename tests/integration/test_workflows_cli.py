"""The CLI across processes: `autodev local up` in the background, workflows started,
followed and approved from other processes, then `autodev local down`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autodev.config import get_settings
from autodev.local.slack.sink import RemoteSink
from autodev.local.state import pid_alive, read_state
from autodev.local.testing import WorkerDouble, wait_for
from autodev.workflows import get_workflow_status

AUTODEV = [sys.executable, "-c", "from autodev.cli import main; main()"]


def run(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*AUTODEV, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if ok:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def cli_env(database: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env.update(
        DATABASE_URL=database,
        AUTODEV_STATE_DIR=str(tmp_path / "state"),
        # No scaler poke: this test's worker double answers the agent steps.
        AUTODEV_SCALER_FUNCTION="",
        APPROVERS="UAPPROVER",
        COLUMNS="200",
    )
    return env


@pytest.fixture
def background_stack(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    up = run(cli_env, "local", "up")
    assert "local stack" in up.stdout
    state = read_state(Path(cli_env["AUTODEV_STATE_DIR"]))
    assert state is not None
    try:
        # This process follows the stack too, as any other local process would.
        for name, value in state["env"].items():
            if name != "MOTO_PORT":
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("AUTODEV_STATE_DIR", cli_env["AUTODEV_STATE_DIR"])
        get_settings.cache_clear()
        yield cli_env
    finally:
        down = run(cli_env, "local", "down", ok=False)
        assert down.returncode == 0, down.stderr
        assert "local stack stopped" in down.stdout
        assert not pid_alive(int(state["pid"]))
        assert read_state(Path(cli_env["AUTODEV_STATE_DIR"])) is None


def test_bad_json_input_is_one_clear_line(cli_env: dict[str, str]) -> None:
    done = run(cli_env, "workflow", "start", "bug-fix", "--input", "{bad", ok=False)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("autodev: --input is not valid JSON: Expecting property name")
    not_object = run(cli_env, "workflow", "start", "bug-fix", "--input", "[1]", ok=False)
    assert not_object.stderr.strip() == (
        'autodev: --input must be a JSON object, like \'{"target": "X"}\''
    )


def test_local_stack_drives_a_deployment_from_other_processes(
    background_stack: dict[str, str],
) -> None:
    env = background_stack
    status = run(env, "local", "status")
    assert "AWS endpoint answers: 4 state machines" in status.stdout
    page = os.environ["AUTODEV_SLACK_SINK_URL"]
    assert page in status.stdout  # where the local Slack page is
    sink = RemoteSink(page)

    listed = run(env, "workflow", "list")
    assert "full-analysis-improvement" in listed.stdout

    unknown = run(env, "workflow", "start", "deploy", ok=False)
    assert unknown.stderr.strip().startswith("autodev: no workflow template 'deploy'")

    started = run(
        env, "workflow", "start", "deployment", "--input", json.dumps({"target_org": "staging"})
    )
    workflow_id = started.stdout.split()[3]
    assert started.stdout.startswith(f"started deployment workflow {workflow_id}")
    # People may type the execution name the CLI and Slack show, or its hex part.
    short = workflow_id.replace("-", "")[:8]
    assert f"execution: deployment-{short}" in started.stdout

    double = WorkerDouble().start()
    try:
        wait_for(
            lambda: get_workflow_status(workflow_id).status == "waiting_approval",
            what="the approval request",
        )
        waiting = run(env, "workflow", "status", short)
        assert f"workflow {workflow_id} (deployment): waiting_approval" in waiting.stdout
        assert "Validate deployment" in waiting.stdout
        assert f"see it:    {page}/executions/deployment-{short}" in waiting.stdout
        assert "console.aws.amazon.com" not in waiting.stdout

        # Started from the CLI, it has no thread: the card goes to ALERT_CHANNEL and says so.
        def card() -> dict[str, Any] | None:
            for message in sink.messages("#dev-alerts"):
                if f"deployment-{short}" in json.dumps(message["blocks"]):
                    return message
            return None

        posted: dict[str, Any] = wait_for(card, what="the approval card in #dev-alerts")
        assert "actions" in [block["type"] for block in posted["blocks"]]
        assert "was not started from Slack" in json.dumps(posted["blocks"])

        refused = run(env, "workflow", "approve", workflow_id, "--as", "UOTHER", ok=False)
        assert refused.stderr.strip() == (
            "autodev: UOTHER may not answer approvals: approvers are the users in APPROVERS"
            " or members of APPROVER_GROUP"
        )
        approved = run(env, "workflow", "approve", f"deployment-{short}", "--as", "UAPPROVER")
        assert approved.stdout.startswith("approved (approval ")
        # The card in Slack shows the CLI's decision, who and when, and has no buttons left.
        closed = card()
        assert closed is not None
        assert closed["ts"] == posted["ts"]
        assert "*Approved* by <@UAPPROVER> at " in json.dumps(closed["blocks"])
        assert "actions" not in [block["type"] for block in closed["blocks"]]

        wait_for(lambda: get_workflow_status(workflow_id).finished, what="the deployment")
    finally:
        double.stop()
    done = run(env, "workflow", "status", workflow_id)
    assert f"workflow {workflow_id} (deployment): succeeded" in done.stdout
    for step in ("Request approval", "Deploy to org", "Run smoke tests", "Workflow succeeded"):
        assert step in done.stdout
    again = run(env, "workflow", "approve", workflow_id, "--as", "UAPPROVER", ok=False)
    assert "was already approved by UAPPROVER at" in again.stderr

    # The cached result, its status and where it went (the spec's workflow:completed event,
    # sent by the stack's delivery service or the finishing step's kick).
    wait_for(
        lambda: "delivered" in run(env, "workflow", "status", workflow_id).stdout,
        what="the result's delivery",
    )
    result = run(env, "workflow", "result", short)
    assert f"of workflow {workflow_id}: succeeded" in result.stdout
    assert '"template": "deployment"' in result.stdout
    assert "EventBridge bus autodev" in result.stdout
    done = run(env, "workflow", "status", workflow_id)
    assert "result deliveries" in done.stdout
    assert "EventBridge bus autodev" in done.stdout
    nothing = run(env, "workflow", "status", "bug-fix-" + short, ok=False)
    assert nothing.stderr.strip() == f"autodev: no workflow 'bug-fix-{short}'"
    unknown = run(env, "workflow", "result", "no-such-workflow", ok=False)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "autodev: no result for no-such-workflow (yet)"
