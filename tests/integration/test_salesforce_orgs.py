"""Orgs registered by name (the CLI, bad input refused in one line) and the auth URL's path: from
Secrets Manager (moto's) to ``sf org login sfdx-url`` in a config directory of the step's own,
and nowhere else: no log line, Slack message, task row, result or leftover file holds it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from autodev.config import get_settings
from autodev.db import connection
from autodev.local import salesforce as local_salesforce
from autodev.local.slack.sink import SlackSink
from autodev.local.stack import LocalStack
from autodev.local.testing import wait_until_finished
from autodev.orchestrator.tool_task import StepRunner
from autodev.orchestrator.worker import Worker, make_runner
from autodev.salesforce.orgs import list_orgs
from autodev.workflows import StartRequest, start_workflow

AUTODEV = [sys.executable, "-c", "from autodev.cli import main; main()"]
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:autodev/test/orgs/uat-AbC123"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AUTODEV, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_cli_adds_and_lists_orgs_and_refuses_bad_input_in_one_line(
    database: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env.update(DATABASE_URL=database, AUTODEV_STATE_DIR=str(tmp_path / "state"), COLUMNS="200")
    added = run(env, "org", "add", "uat", "--auth-url-secret", ARN)
    assert added.returncode == 0, added.stderr
    assert f"registered org uat: auth URL in {ARN}" in added.stdout
    for args, message in [
        (("bad name", "--auth-url-secret", ARN), "is not an org name"),
        (("uat2", "--auth-url-secret", "force://a::b@c.my.salesforce.com"), "is not a Secrets"),
    ]:
        refused = run(env, "org", "add", *args)
        assert refused.returncode == 1
        assert refused.stderr.count("\n") == 1  # one line, no traceback
        assert message in refused.stderr
    listed = run(env, "org", "list")
    assert listed.returncode == 0
    assert "uat" in listed.stdout
    assert "uat2" not in listed.stdout  # nothing recorded by the refused add
    assert [o.name for o in list_orgs()] == ["uat"]


@pytest.fixture
def stack(database: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[LocalStack]:
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "1000")
    monkeypatch.setenv("AUTODEV_WORKSPACE_DIR", str(tmp_path / "workspaces"))
    get_settings.cache_clear()
    with LocalStack(poke_scaler=False, services=[local_salesforce.SERVICE]) as running:
        yield running
    get_settings.cache_clear()


def test_the_auth_url_reaches_sf_only(
    stack: LocalStack,
    slack_sink: SlackSink,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    token = "5Aep861" + uuid.uuid4().hex + "CANARY"
    canary = f"force://PlatformCLI::{token}@canary.my.salesforce.com"
    local_salesforce.register_local_org("canary", canary)
    caplog.set_level("INFO")  # every autodev log line (the SDK's wire log is off in AWS)

    started = start_workflow(
        StartRequest("deployment", {"target_org": "canary"}, "U1", slack_channel="C1")
    )
    runner = make_runner(get_settings(), "w-canary")
    assert isinstance(runner, StepRunner)
    Worker(get_settings(), runner=runner, worker_id="w-canary", max_tasks=1).run()
    status = wait_until_finished(started.id)
    # The org answered (its failing Apex test fails the validation): the login worked.
    assert status.status == "failed"
    assert status.error == "ValidationFailed"

    with connection() as conn:
        rows = [
            str(r)
            for table in ("autonomous_tasks", "workflows", "task_results", "audit_log")
            for r in conn.execute(f"SELECT * FROM {table}").fetchall()
        ]
    captured = capfd.readouterr()
    places = {
        "log": caplog.text,
        "output": captured.out + captured.err,
        "database": "\n".join(rows),
        "slack": "\n".join(str(call.args) for call in slack_sink.calls()),
        "status": str(status),
    }
    for secret in (canary, token):
        for where, text in places.items():
            assert secret not in text, where
    # No file the step left behind holds it (the config directory was removed with the step).
    for root in (tmp_path, get_settings().autodev_state_dir):
        for path in Path(root).rglob("*"):
            if path.is_file() and path.stat().st_size < 5_000_000:
                assert token not in path.read_text(errors="ignore"), path
    assert not list(Path(tmp_path / "workspaces").rglob("sf-config-*"))
