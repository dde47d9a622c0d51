"""The rescuer and a lapsed lease: a live worker that could not renew (the database was down)
keeps its task; a dead one, one that does not know the task, or one past the attempt's
deadline loses it. Liveness is asked of the launcher: here, local processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from autodev.config import get_settings
from autodev.db import connection
from autodev.orchestrator import queue, registry, rescuer
from autodev.orchestrator.launchers import LocalProcessLauncher, worker_alive
from autodev.orchestrator.queue import TaskSpec
from autodev.orchestrator.registry import WorkerRecord

WORKER = "this-test-process"


def _running_task(worker_id: str = WORKER) -> str:
    """A task that ``worker_id`` claimed and said it works on, whose lease has lapsed."""
    task_id = queue.submit_task(TaskSpec(task_type="analysis", prompt="work", max_attempts=3))
    claimed = queue.claim_next(worker_id, 30)
    assert claimed is not None
    assert claimed.id == task_id
    registry.seen(worker_id, task_id)
    _lapse(task_id)
    return task_id


def _lapse(task_id: str) -> None:
    with connection() as conn:
        conn.execute(
            "UPDATE autonomous_tasks SET lease_expires_at = now() - interval '1 second' "
            "WHERE id = %s",
            (task_id,),
        )


def _rescue() -> dict[str, object]:
    return rescuer.rescue_once(scale=False)


def test_a_live_worker_s_lapsed_lease_is_extended_not_rescued(database: str) -> None:
    registry.register(WORKER, "local")  # this process: alive
    task_id = _running_task()
    report = _rescue()
    assert report["spared"] == [task_id]
    assert report["requeued"] == []
    status = queue.get_task_status(task_id)
    assert (status.status, status.attempts, status.lease_owner) == ("running", 1, WORKER)
    assert status.lease_expires_at is not None
    assert status.lease_expires_at > datetime.now(UTC)
    # The worker records its outcome when it can: nobody else ran the task.
    assert queue.complete_task(task_id, WORKER, {"summary": "done once"})


@pytest.mark.parametrize(
    "why",
    ["stopped", "another task", "past the deadline", "never registered"],
)
def test_a_lapsed_lease_is_rescued_when_its_worker_cannot_be_vouched_for(
    database: str, why: str
) -> None:
    registry.register(WORKER, "local")
    task_id = _running_task("someone-unknown" if why == "never registered" else WORKER)
    if why == "stopped":
        registry.stopped(WORKER, "exited")
    elif why == "another task":
        # Its claim's answer never reached it (the connection died): it works on nothing.
        registry.seen(WORKER, None)
    elif why == "past the deadline":
        with connection() as conn:
            conn.execute(
                "UPDATE autonomous_tasks "
                "SET claimed_at = now() - make_interval(secs => timeout_ms / 1000.0 + %s) "
                "WHERE id = %s",
                (queue.RECORD_GRACE_SECONDS + 1, task_id),
            )
        registry.seen(WORKER, task_id)
    report = _rescue()
    assert report["spared"] == []
    assert report["requeued"] == [task_id]
    assert queue.get_task_status(task_id).status == "queued"


def _record(pid: int, registered: datetime, status: str = "busy") -> WorkerRecord:
    return WorkerRecord(
        id="w",
        launcher="local",
        host=socket.gethostname(),
        pid=pid,
        instance=None,
        started_at=registered,
        status=status,
        current_task_id=None,
    )


def test_the_local_launcher_tells_a_live_worker_from_a_dead_or_reused_pid(database: str) -> None:
    settings = get_settings()
    launcher = LocalProcessLauncher(settings)
    now = datetime.now(UTC)
    assert launcher.is_alive(_record(os.getpid(), now))
    assert worker_alive(_record(os.getpid(), now), settings)
    assert not worker_alive(_record(os.getpid(), now, status="stopped"), settings)
    # Not a worker this host can see.
    assert not launcher.is_alive(replace(_record(os.getpid(), now), host="elsewhere"))
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    assert not launcher.is_alive(_record(exited.pid, now))
    # A process that started well after the worker registered has only reused its pid.
    assert not launcher.is_alive(_record(os.getpid(), now - timedelta(days=1)))


def test_a_fargate_worker_finds_its_task_arn_in_the_task_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    arn = "arn:aws:ecs:us-east-1:123456789012:task/autodev/0123456789abcdef0123456789abcdef"

    class Metadata(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"TaskARN": arn, "Cluster": "autodev"}).encode()
            status = 200 if self.path == "/v4/abc/task" else 404
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Metadata)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.delenv(registry.ECS_METADATA_ENV, raising=False)
        assert registry.ecs_task_arn() is None  # not in ECS
        base = f"http://127.0.0.1:{server.server_address[1]}/v4/abc"
        monkeypatch.setenv(registry.ECS_METADATA_ENV, base)
        assert registry.ecs_task_arn() == arn
        monkeypatch.setenv(registry.ECS_METADATA_ENV, base + "/gone")
        assert registry.ecs_task_arn() is None  # the endpoint failed: unknown, not an error
    finally:
        server.shutdown()
        server.server_close()
