"""`autodev orchestrator` on a real Postgres: workers and their tasks, queue, failures."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from autodev.cli import app
from autodev.orchestrator import queue, registry
from autodev.orchestrator.queue import TaskSpec


def test_orchestrator_shows_workers_queue_and_recent_failures(database: str) -> None:
    queue.submit_task(TaskSpec(task_type="analysis", prompt="a", priority="high"))
    queue.submit_task(TaskSpec(task_type="analysis", prompt="b", priority="low"))
    running_id = queue.submit_task(
        TaskSpec(task_type="fix", prompt="c", priority="critical", step_name="Implement the fix")
    )
    running = queue.claim_next("host-123-abc", 60)
    assert running is not None
    assert running.id == running_id
    registry.register("host-123-abc", "local")
    registry.seen("host-123-abc", running_id)
    failing = queue.submit_task(
        TaskSpec(
            task_type="test",
            prompt="d",
            priority="critical",
            step_name="Verify the fix",
            max_attempts=1,
        )
    )
    claimed = queue.claim_next("host-456-def", 60)
    assert claimed is not None
    assert claimed.id == failing
    queue.fail_task(failing, "host-456-def", "the org refused the connection")

    result = CliRunner().invoke(app, ["orchestrator", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    (worker,) = data["workers"]
    assert (worker["id"], worker["status"], worker["current_task_id"]) == (
        "host-123-abc",
        "busy",
        running_id,
    )
    assert worker["step_name"] == "Implement the fix"
    assert data["queue"]["queued"] == {"critical": 0, "high": 1, "normal": 0, "low": 1}
    assert data["queue"]["running"] == 1
    (failure,) = data["recent_failures"]
    assert failure["id"] == failing
    assert failure["status"] == "dead"
    assert failure["error_code"] == queue.ERROR_RETRIES_EXHAUSTED

    table = CliRunner().invoke(app, ["orchestrator"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "Workers running: 1" in table.output
    assert "Implement the fix" in table.output
    assert "the org refused the connection" in table.output
