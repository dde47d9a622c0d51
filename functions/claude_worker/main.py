"""The worker's entry point: the Fargate container's command, and a local process.

Claims tasks from the queue and runs them with Claude Code until the queue stays empty for
ORCHESTRATOR_IDLE_TIMEOUT ms, then exits 0. SIGTERM (ECS stopping the task) lets the current
task finish first. Started locally by the scaler's LocalProcessLauncher, which passes
AUTODEV_WORKER_PIDFILE_DIR (the worker removes its pid file there when it exits) and
AUTODEV_WORKER_PARENT (the worker stops its task and exits when that process, the local
stack, is gone). In ECS a
missing setting stops it before it claims anything (see ``autodev.runtime``).

``main(runner)`` runs the same loop with another task runner; ``run(runner)`` runs it as the
process, which ends at once when the loop is done (``leave``). The local stack's echo worker
(``autodev.local.echo``) does that.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from autodev import runtime

if TYPE_CHECKING:
    from autodev.orchestrator.execution import TaskRunner

NEEDS = (runtime.DATABASE, runtime.EVENT_BUS, runtime.MODEL_PROVIDER, runtime.SLACK_BOT_TOKEN)


def _provider_needs() -> tuple[runtime.Need, ...]:
    if os.environ.get("AUTODEV_MODEL_PROVIDER") == "anthropic":
        return (runtime.ANTHROPIC_API_KEY,)
    return ()


def _started() -> None:
    """The start-up is over: what it made is kept out of every later collection (it lives as
    long as the worker), and the collector runs again. The start-up's few cycles of garbage
    (about a thousand objects, measured) are frozen with the rest rather than found by a full
    collection, which would cost 70 ms of the start it saves."""
    gc.freeze()
    gc.enable()


def main(runner: TaskRunner | None = None) -> int:
    # JSON log lines on stderr (autodev.observability) that name the worker and, while a task
    # runs, the task, its workflow and step; the worker's log is INFO unless told otherwise.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")
    runtime.require(*NEEDS, *_provider_needs())
    # The start-up's imports and set-up make some hundred thousand objects (modules, classes,
    # pydantic's schemas) that live as long as the worker, none of them garbage: the cyclic
    # collector would walk them all, over and over, as they are made (a tenth of the start-up:
    # 0.72 s against 0.81 s, medians of 10). It is paused until the worker is built (_started).
    gc.disable()
    from autodev.config import settings_or_exit, with_secrets_from_arns
    from autodev.db import connect_ahead

    settings = settings_or_exit()
    # The database connection opens while the rest is imported (and, in AWS, the secrets
    # read): the worker's registration and first claim then find it open.
    connect_ahead(settings)
    from autodev.observability import logger
    from autodev.orchestrator import parent_watch
    from autodev.orchestrator.worker import Worker

    # In AWS the Anthropic key arrives as ANTHROPIC_API_KEY_ARN; read it into settings only.
    settings = with_secrets_from_arns(settings)
    launcher = os.environ.get("AUTODEV_WORKER_LAUNCHER_NAME") or (
        "ecs" if os.environ.get("ECS_CONTAINER_METADATA_URI_V4") else "local"
    )
    try:
        worker = Worker(settings, launcher=launcher, runner=runner)
        _started()
        worker.install_signal_handlers()
        parent = os.environ.get(parent_watch.PARENT_ENV)
        if parent:
            parent_watch.watch(parent, worker.abandon)
        worker.run()
    except Exception:
        logger.exception("the worker stopped on an unexpected error")
        return 1
    finally:
        gc.enable()
    return 0


def leave(code: int) -> NoReturn:
    """End the worker's process with ``code`` now that the loop is done, without Python's
    teardown.

    By then the worker has let go of what it held (its tasks, the agent guard and user, the
    background lane, Slack's last edits). Python's teardown would then free its objects one by
    one: 0.15-0.26 s after the worker said it was gone (measured under load), on the cores
    where the next worker or a running agent starts. The worker's own threads end and the exit
    handlers run first (logging's flush among them), and the pid file goes last: the local
    launcher counts a worker until its process is gone.
    """
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    # What the interpreter itself would run next; they are not otherwise reachable.
    atexit._run_exitfuncs()
    pidfile_dir = os.environ.get("AUTODEV_WORKER_PIDFILE_DIR")
    if pidfile_dir:
        (Path(pidfile_dir) / f"{os.getpid()}.json").unlink(missing_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(runner: TaskRunner | None = None) -> NoReturn:
    """The worker as a process: ``main``, then ``leave``."""
    leave(main(runner))


if __name__ == "__main__":
    run()
