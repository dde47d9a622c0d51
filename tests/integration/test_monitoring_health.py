"""Each health check fails when its own dependency is down, and says so everywhere it shows.

Real dependencies on loopback: a Postgres server of this test's own (stopped half way, not the
shared test server), moto with the state machines, the scripted model server and the Slack
sink. "Down" is the real thing: a stopped server, or a closed port.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autodev.aws import reset_clients
from autodev.config import get_settings
from autodev.db import connection, embedded, get_pool
from autodev.db.migrate import Migrator
from autodev.local.model.server import ScriptedModelServer
from autodev.local.slack.gateway import LocalGateway
from autodev.local.slack.sink import SlackSink
from autodev.local.stack import LocalStack
from autodev.monitoring import forget_cached_health, run_health_checks
from autodev.orchestrator import queue
from autodev.orchestrator.queue import TaskSpec
from autodev.slack import jobs
from autodev.slack.commands import Action
from autodev.slack.job_models import CommandJob
from tests.conftest import ROOT, reset_process_state


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def own_postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A Postgres server for this test alone, migrated; stopped (if still up) and removed at
    the end. Under the repository's .autodev/ like the shared test server: pgserver runs its
    server as a user of its own, which cannot enter pytest's private temporary directories."""
    state = ROOT / ".autodev" / "test-own" / uuid.uuid4().hex[:12]
    monkeypatch.setenv("DATABASE_URL", embedded.embedded_url(state))
    monkeypatch.setenv("AUTODEV_STATE_DIR", str(tmp_path / "state"))
    reset_process_state()
    try:
        Migrator(get_settings()).up()
        yield state
    finally:
        reset_process_state()
        if embedded.is_running(state):
            embedded.stop(state)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def everything_up(
    own_postgres: Path, slack_sink: SlackSink, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    monkeypatch.delenv("AUTODEV_MODEL_PROVIDER", raising=False)
    with (
        ScriptedModelServer() as model,
        LocalStack(poke_scaler=False) as stack,
    ):
        monkeypatch.setenv("AUTODEV_SCRIPTED_MODEL_URL", model.url)
        get_settings.cache_clear()
        forget_cached_health()
        yield {"postgres": own_postgres, "sink": slack_sink, "stack": stack}
    forget_cached_health()


def _states() -> dict[str, str]:
    return {check.name: check.state for check in run_health_checks(fresh=True)}


def _detail(name: str) -> str:
    return next(c.detail for c in run_health_checks(fresh=True) if c.name == name)


ALL_OK = {
    "database": "ok",
    "model_api": "ok",
    "step_functions": "ok",
    "orchestrator": "ok",
    "slack": "ok",
}


def test_each_check_fails_when_its_dependency_is_down(
    everything_up: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _states() == ALL_OK

    # The model API: the configured server's port closed.
    with monkeypatch.context() as change:
        change.setenv("AUTODEV_SCRIPTED_MODEL_URL", f"http://127.0.0.1:{_closed_port()}")
        get_settings.cache_clear()
        assert _states() == {**ALL_OK, "model_api": "failing"}
        assert "is unreachable" in _detail("model_api")
    get_settings.cache_clear()

    # Slack: its Web API's port closed.
    with monkeypatch.context() as change:
        change.setenv("SLACK_API_URL", f"http://127.0.0.1:{_closed_port()}/api/")
        assert _states() == {**ALL_OK, "slack": "failing"}
        assert _detail("slack").startswith("Slack is unreachable")

    # Step Functions: the AWS endpoint's port closed.
    with monkeypatch.context() as change:
        change.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_closed_port()}")
        reset_clients()
        assert _states() == {**ALL_OK, "step_functions": "failing"}
        assert _detail("step_functions").startswith("Step Functions is unreachable")
    reset_clients()

    # The orchestrator: a running task whose worker stopped renewing its lease long ago.
    task_id = queue.submit_task(TaskSpec(task_type="analysis", prompt="abandoned"))
    assert queue.claim_next("gone-worker", 60) is not None
    with connection() as conn:
        conn.execute(
            "UPDATE autonomous_tasks SET lease_expires_at = now() - interval '10 minutes'"
            " WHERE id = %s",
            (task_id,),
        )
    assert _states() == {**ALL_OK, "orchestrator": "failing"}
    assert "whose worker stopped renewing its lease" in _detail("orchestrator")
    with connection() as conn:
        conn.execute("DELETE FROM autonomous_tasks")
    assert _states() == ALL_OK

    # The database: its server stopped. What needs it is not asked, and says why; GET /health
    # answers 503 naming them; /monitor and `autodev monitor` show them.
    sink: SlackSink = everything_up["sink"]
    with LocalGateway() as gateway:
        forget_cached_health()
        with urllib.request.urlopen(gateway.url + "/health", timeout=30) as answer:  # noqa: S310
            assert answer.status == 200
            assert json.loads(answer.read())["status"] == "ok"

        assert embedded.stop(everything_up["postgres"])
        states = _states()
        assert states == {**ALL_OK, "database": "failing", "orchestrator": "failing"}
        assert _detail("database").startswith("unavailable: ")
        assert _detail("orchestrator") == "not checked: database is failing"
        get_pool().timeout = 0.5  # what still reaches for the pool gives up at once
        with pytest.raises(urllib.error.HTTPError) as down:
            urllib.request.urlopen(gateway.url + "/health", timeout=30)  # noqa: S310
    assert down.value.code == 503
    body = json.loads(down.value.read())
    assert body["status"] == "failing"
    assert body["failing"] == ["database", "orchestrator"]
    by_name = {check["name"]: check for check in body["checks"]}
    assert by_name["database"]["state"] == "failing"
    assert by_name["slack"]["state"] == "ok"
    assert all(set(check) == {"name", "state", "milliseconds"} for check in body["checks"])

    # /monitor, as the Slack worker runs it: the health shows, and no traceback or apology.
    job = CommandJob(
        action=Action.MONITOR,
        user_id="UOPS",
        channel_id="COPS",
        response_url=sink.response_url("monitor-1"),
    )
    jobs.run(job)
    [answer] = [c for c in sink.calls("response_url") if c.key == "monitor-1"]
    shown = answer.block_text()
    assert "No figures: the database is unavailable" in shown
    assert ":x: database" in shown
    assert "Something went wrong" not in answer.text
    assert "Traceback" not in shown

    # autodev monitor: the health table, then one line saying why there are no figures.
    result = subprocess.run(
        [sys.executable, "-m", "autodev.cli", "monitor"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "FAILING" in result.stdout
    assert "database" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("autodev: no figures: the database is unavailable")
