"""Starting worker instances: ECS Fargate tasks in AWS, local processes on the local stack.

One interface: ``running()`` counts the workers that are up (or starting), ``launch(n)``
starts ``n`` more. The scaler decides how many. ``worker_alive`` asks the launcher that
started a worker whether it still runs (its local process, its ECS task), so that the rescuer
does not hand a live worker's task to another while that worker is finishing it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Protocol

from autodev.config import Settings
from autodev.errors import AutodevError
from autodev.observability import child_logger
from autodev.orchestrator import parent_watch
from autodev.orchestrator.registry import WorkerRecord

log = child_logger(__name__)

# ECS tasks started by the scaler carry this as startedBy, which ListTasks filters on.
STARTED_BY = "autodev-scaler"
# ECS task states (lastStatus) in which the worker's container may still run: a stopping task
# has been sent SIGTERM, and the worker finishes its current task before it exits.
_ECS_LIVE_STATES = frozenset(
    {"PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING"}
)
# A process started this long after its worker registered is another one with a reused pid.
_PID_REUSE_SLACK_SECONDS = 5.0
WORKER_SCRIPT = Path(__file__).resolve().parents[5] / "functions" / "claude_worker" / "main.py"
# Secrets of the process that starts workers (the local stack runs the Slack handlers) that a
# worker has no use for, so it is not given them (as in AWS, where its task definition has none).
WORKER_NEEDS_NOT = ("SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET_ARN")


class LaunchFailed(AutodevError):
    """A worker could not be started."""


class Launcher(Protocol):
    name: str

    def running(self) -> int: ...

    def launch(self, count: int) -> list[str]: ...


class EcsLauncher:
    """Workers as Fargate tasks (ecs:RunTask), counted with ListTasks by startedBy."""

    name = "ecs"

    def __init__(self, settings: Settings) -> None:
        if not settings.autodev_ecs_cluster or not settings.autodev_ecs_task_definition:
            raise LaunchFailed(
                "the ECS launcher needs AUTODEV_ECS_CLUSTER and AUTODEV_ECS_TASK_DEFINITION"
            )
        if not settings.autodev_ecs_subnets:
            raise LaunchFailed("the ECS launcher needs AUTODEV_ECS_SUBNETS")
        self.settings = settings

    def _ecs(self) -> Any:
        from autodev.aws import client

        return client("ecs")

    def running(self) -> int:
        paginator = self._ecs().get_paginator("list_tasks")
        count = 0
        for page in paginator.paginate(
            cluster=self.settings.autodev_ecs_cluster,
            startedBy=STARTED_BY,
            desiredStatus="RUNNING",
        ):
            count += len(page.get("taskArns", []))
        return count

    def launch(self, count: int) -> list[str]:
        settings = self.settings
        started: list[str] = []
        network = {
            "awsvpcConfiguration": {
                "subnets": list(settings.autodev_ecs_subnets),
                "securityGroups": list(settings.autodev_ecs_security_groups),
                "assignPublicIp": "DISABLED",
            }
        }
        remaining = count
        while remaining > 0:
            batch = min(10, remaining)  # RunTask starts at most 10 tasks per call
            response = self._ecs().run_task(
                cluster=settings.autodev_ecs_cluster,
                taskDefinition=settings.autodev_ecs_task_definition,
                launchType="FARGATE",
                count=batch,
                startedBy=STARTED_BY,
                networkConfiguration=network,
                propagateTags="TASK_DEFINITION",
            )
            failures = response.get("failures") or []
            started += [task["taskArn"] for task in response.get("tasks", [])]
            if failures:
                reasons = ", ".join(str(f.get("reason")) for f in failures[:3])
                raise LaunchFailed(f"ECS could not start {len(failures)} worker(s): {reasons}")
            remaining -= batch
        return started

    def is_alive(self, worker: WorkerRecord) -> bool:
        """Whether the worker's ECS task may still run; False when ECS says it stopped, has
        no such task, or cannot be asked (then the rescuer does as it would for a dead one)."""
        from botocore.exceptions import BotoCoreError, ClientError

        if not worker.instance:
            return False
        try:
            response = self._ecs().describe_tasks(
                cluster=self.settings.autodev_ecs_cluster, tasks=[worker.instance]
            )
        except (BotoCoreError, ClientError) as error:
            log.warning("ECS did not say whether worker %s lives: %s", worker.id, error)
            return False
        statuses = [str(task.get("lastStatus")) for task in response.get("tasks", [])]
        return any(status in _ECS_LIVE_STATES for status in statuses)


class LocalProcessLauncher:
    """Workers as local processes (``python functions/claude_worker/main.py``, or
    ``python -m AUTODEV_WORKER_MODULE`` when that names another worker entry point).

    Each worker's pid is kept in ``AUTODEV_STATE_DIR/workers/<pid>.json`` until it exits
    (the worker removes its own file; a file whose process is gone is swept by ``running``).
    A worker stops when the process that launched it is gone (``parent_watch``).
    """

    name = "local"
    _children: list[subprocess.Popen[bytes]] = []
    _lock = threading.Lock()

    def __init__(self, settings: Settings, env: dict[str, str] | None = None) -> None:
        self.directory = (settings.autodev_state_dir / "workers").resolve()
        self.logs = (settings.autodev_state_dir / "logs").resolve()
        self.env = env
        module = settings.autodev_worker_module
        self.command = [sys.executable, *(["-m", module] if module else [str(WORKER_SCRIPT)])]

    def _reap(self) -> None:
        with self._lock:
            LocalProcessLauncher._children = [c for c in self._children if c.poll() is None]

    def pids(self) -> list[int]:
        self._reap()
        alive: list[int] = []
        if not self.directory.is_dir():
            return alive
        for entry in self.directory.glob("*.json"):
            try:
                pid = int(entry.stem)
            except ValueError:
                continue
            if _is_worker(pid, entry):
                alive.append(pid)
            else:
                entry.unlink(missing_ok=True)
        return sorted(alive)

    def running(self) -> int:
        return len(self.pids())

    def launch(self, count: int) -> list[str]:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.logs.chmod(0o700)  # the workers' own: no agent reads them
        started: list[str] = []
        for _ in range(count):
            env = dict(self.env if self.env is not None else os.environ)
            for name in WORKER_NEEDS_NOT:
                env.pop(name, None)
            env["AUTODEV_WORKER_PIDFILE_DIR"] = str(self.directory)
            env["AUTODEV_WORKER_LAUNCHER_NAME"] = self.name
            # The worker stops when this process (the local stack) is gone, even by SIGKILL.
            env[parent_watch.PARENT_ENV] = parent_watch.this_process()
            log_path = (
                self.logs / f"worker-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}.log"
            )
            with log_path.open("ab") as output:
                child = subprocess.Popen(
                    self.command,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            # Named before anything can reap the child (``_reap``): it has its /proc entry
            # even if it has exited already.
            record = {
                "pid": child.pid,
                "process": parent_watch.identity(child.pid),
                "log": str(log_path),
            }
            (self.directory / f"{child.pid}.json").write_text(json.dumps(record))
            with self._lock:
                self._children.append(child)
            started.append(str(child.pid))
        return started

    def is_alive(self, worker: WorkerRecord) -> bool:
        """Whether the worker's process still runs on this host (not a zombie, not a later
        process that reused its pid); a worker on another host cannot be told: False."""
        import psutil

        if worker.pid is None or worker.host != socket.gethostname():
            return False
        try:
            process = psutil.Process(worker.pid)
            if process.status() == psutil.STATUS_ZOMBIE:
                return False
            started = process.create_time()
        except psutil.Error:
            return False
        return started <= worker.started_at.timestamp() + _PID_REUSE_SLACK_SECONDS


def worker_alive(worker: WorkerRecord, settings: Settings) -> bool:
    """Ask the launcher that started ``worker`` whether it still runs; False when it stopped,
    or when nobody can tell (a worker is then treated as dead, as before liveness checks)."""
    if worker.status == "stopped":
        return False
    try:
        if worker.launcher == EcsLauncher.name:
            return EcsLauncher(settings).is_alive(worker)
        return LocalProcessLauncher(settings).is_alive(worker)
    except LaunchFailed as error:
        log.warning("cannot tell whether worker %s lives: %s", worker.id, error)
        return False


def _is_worker(pid: int, pidfile: Path) -> bool:
    """Whether the process its pid file recorded still runs (not a later one with its pid).

    Told by the process's start mark (``parent_watch.identity``), not its command line: /proc
    reads no command line while a process is mid-exec (Popen returns once the exec has begun,
    before the kernel lays out the new program's), and a worker seen then was swept as dead."""
    try:
        recorded = json.loads(pidfile.read_text())["process"]
        return recorded.startswith(f"{pid}:") and parent_watch.gone(recorded) is None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def launcher_for(settings: Settings) -> Launcher:
    from autodev.runtime import in_aws

    # In AWS workers are ECS tasks; a missing cluster setting is an error, not local processes.
    default = "ecs" if settings.autodev_ecs_cluster or in_aws() else "local"
    kind = settings.autodev_worker_launcher or default
    if kind == "ecs":
        return EcsLauncher(settings)
    return LocalProcessLauncher(settings)
