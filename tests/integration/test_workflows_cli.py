"""The CLI across processes: `autodev local up` in the background, workflows started,
followed and approved from other processes, then `autodev local down`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from autodev import access
from autodev.config import get_settings
from autodev.local.slack.sink import RemoteSink
from autodev.local.state import pid_alive, read_state
from autodev.local.testing import WorkerDouble, wait_for
from autodev.schedules import list_schedules
from autodev.workflows import get_workflow_status, list_workflows

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
        # No scaler poke: this test's worker double answers the agent steps. A worker the
        # stack's own loop starts meanwhile is the echo runner, which answers the same way
        # (a tool step passes), not a real one deploying to an org the test never registered.
        AUTODEV_SCALER_FUNCTION="",
        AUTODEV_WORKER_MODULE="autodev.local.echo",
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
    # The person who started it may approve and cancel on it, and is told so.
    assert f"you ({access.os_user()}) are an approver and an admin" in up.stdout
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


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--budget", "1e308"], "a budget of $1e+308 is above the most a workflow may have"),
        (["--budget", "inf"], "a budget must be a number of US dollars above 0, not inf"),
        (["--budget", "-1"], "a budget must be a number of US dollars above 0, not -1.0"),
        (["--input", '{"description": "N\\u0000PE"}'], "--input.description contains a NUL"),
        (["--input", '{"description": "N\\ud800PE"}'], "--input.description contains an unpaired"),
        # A byte the locale cannot decode reaches Python as an unpaired surrogate.
        (["--key", "key-\udcff"], "--key contains an unpaired surrogate (\\udcff)"),
    ],
)
def test_bad_budgets_and_unstorable_text_are_one_clear_line(
    cli_env: dict[str, str], args: list[str], said: str
) -> None:
    done = run(cli_env, "workflow", "start", "bug-fix", *args, ok=False)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"autodev: {said}"), line


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
        # No --as, no APPROVERS of one's own: the stack's starter approves as cli:<login>.
        approved = run(env, "workflow", "approve", f"deployment-{short}")
        assert approved.stdout.startswith("approved (approval ")
        # The card in Slack shows the CLI's decision, who and when, and has no buttons left.
        closed = card()
        assert closed is not None
        assert closed["ts"] == posted["ts"]
        assert f"*Approved* by `{access.os_user()}` at " in json.dumps(closed["blocks"])
        assert "actions" not in [block["type"] for block in closed["blocks"]]

        wait_for(lambda: get_workflow_status(workflow_id).finished, what="the deployment")
    finally:
        double.stop()
    done = run(env, "workflow", "status", workflow_id)
    assert f"workflow {workflow_id} (deployment): succeeded" in done.stdout
    for step in ("Request approval", "Deploy to org", "Run smoke tests", "Workflow succeeded"):
        assert step in done.stdout
    again = run(env, "workflow", "approve", workflow_id, "--as", "UAPPROVER", ok=False)
    assert f"was already approved by {access.os_user()} at" in again.stderr

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

    # A schedule made from the command line: the stack's ticker fires it when it is due.
    # Far enough ahead for the command to start on a busy machine (at() in the past is refused).
    when = (datetime.now(UTC) + timedelta(seconds=15)).strftime("%Y-%m-%dT%H:%M:%S")
    target = {"target": "force-app/main/default/classes/AccountService.cls"}
    made = run(
        env,
        "workflow",
        "schedule",
        "code-review",
        f"at({when})",
        "--input",
        json.dumps(target),
        "--as",
        "UCLI",
    )
    match = re.search(r"as (code-review-[0-9a-f]{8})", made.stdout)
    assert match, made.stdout
    name = match.group(1)

    # Meanwhile: who did what to the deployment, and when.
    trail = run(env, "audit", "--workflow", short)
    assert f"audit trail of deployment deployment-{short}" in trail.stdout
    for line in ("started deployment as", "asked for approval at", "approved", "recorded the end"):
        assert line in trail.stdout, line
    assert access.os_user() in trail.stdout  # the stack's starter approved it
    refused = run(
        env,
        "workflow",
        "schedule",
        "code-review",
        "cron(0 9 * * MON *)",
        "--input",
        json.dumps(target),
        ok=False,
    )
    assert refused.stderr.strip() == (
        "autodev: one of day-of-month and day-of-week must be `?` (and not both)"
    )

    def scheduled_run() -> str | None:
        found = [w for w in list_workflows(limit=20) if w.requested_by == "UCLI"]
        return found[0].id if found and found[0].finished else None

    double = WorkerDouble().start()
    try:
        run_id = wait_for(scheduled_run, timeout=90, what="the scheduled code review")
    finally:
        double.stop()
    assert get_workflow_status(run_id).status == "succeeded"
    listed = run(env, "workflow", "schedules", "--json")
    [job] = [j for j in json.loads(listed.stdout) if j["name"] == name]
    assert (job["runs"], job["enabled"], job["next_run"]) == (1, False, None)  # at() ran once
    trail = run(env, "audit", "--workflow", run_id)
    assert f"scheduled code-review at({when}) UTC as {name}" in trail.stdout
    assert f"(scheduled run of {name}, set up by UCLI)" in trail.stdout
    removed = run(env, "workflow", "unschedule", name, "--as", "UCLI")
    assert removed.stdout.strip() == f"removed the schedule {name} (code-review)"
    assert list_schedules() == []
