"""The worker's entry point: the Fargate container's command, and a local process.

Claims tasks from the queue and runs them with Claude Code until the queue stays empty for
ORCHESTRATOR_IDLE_TIMEOUT ms, then exits 0. SIGTERM (ECS stopping the task) lets the current
task finish first. Started locally by the scaler's LocalProcessLauncher, which passes
AUTODEV_WORKER_PIDFILE_DIR: the worker removes its pid file there when it exits. In ECS a
missing setting stops it before it claims anything (see ``autodev.runtime``).

``main(runner)`` runs the same loop with another task runner; the local stack's echo worker
(``autodev.local.echo``) does that.
"""

from __future__ import annotations

import logging
import os
import sys
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


def main(runner: TaskRunner | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("AUTODEV_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    runtime.require(*NEEDS, *_provider_needs())
    from autodev.config import settings_or_exit, with_secrets_from_arns
    from autodev.orchestrator.worker import Worker

    # In AWS the Anthropic key arrives as ANTHROPIC_API_KEY_ARN; read it into settings only.
    settings = with_secrets_from_arns(settings_or_exit())
    launcher = os.environ.get("AUTODEV_WORKER_LAUNCHER_NAME") or (
        "ecs" if os.environ.get("ECS_CONTAINER_METADATA_URI_V4") else "local"
    )
    pidfile_dir = os.environ.get("AUTODEV_WORKER_PIDFILE_DIR")
    try:
        worker = Worker(settings, launcher=launcher, runner=runner)
        worker.install_signal_handlers()
        worker.run()
    finally:
        if pidfile_dir:
            (Path(pidfile_dir) / f"{os.getpid()}.json").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
