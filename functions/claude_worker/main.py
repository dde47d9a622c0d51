"""The worker's entry point: the Fargate container's command, and a local process.

Claims tasks from the queue and runs them with Claude Code until the queue stays empty for
ORCHESTRATOR_IDLE_TIMEOUT ms, then exits 0. SIGTERM (ECS stopping the task) lets the current
task finish first. Started locally by the scaler's LocalProcessLauncher, which passes
AUTODEV_WORKER_PIDFILE_DIR (the worker removes its pid file there when it exits) and
AUTODEV_WORKER_PARENT (the worker stops its task and exits when that process, the local
stack, is gone). In ECS a
missing setting stops it before it claims anything (see ``autodev.runtime``).

``main(runner)`` runs the same loop with another task runner; the local stack's echo worker
(``autodev.local.echo``) does that.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import TYPE_CHECKING

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
    from autodev.observability import logger
    from autodev.orchestrator import parent_watch
    from autodev.orchestrator.worker import Worker

    # In AWS the Anthropic key arrives as ANTHROPIC_API_KEY_ARN; read it into settings only.
    settings = with_secrets_from_arns(settings_or_exit())
    launcher = os.environ.get("AUTODEV_WORKER_LAUNCHER_NAME") or (
        "ecs" if os.environ.get("ECS_CONTAINER_METADATA_URI_V4") else "local"
    )
    pidfile_dir = os.environ.get("AUTODEV_WORKER_PIDFILE_DIR")
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
        if pidfile_dir:
            (Path(pidfile_dir) / f"{os.getpid()}.json").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
