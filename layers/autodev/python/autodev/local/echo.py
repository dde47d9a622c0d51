"""A task runner without Claude Code, for queue tests and benchmarks.

``python -m autodev.local.echo`` is a worker (the same loop as functions/claude_worker/main.py)
that runs this runner; the local process launcher starts it instead of the Claude Code worker
when ``AUTODEV_WORKER_MODULE=autodev.local.echo``. In-process, pass ``runner=EchoTaskRunner()``
to ``Worker``.

It answers with the prompt. ``context["echo"]`` can ask it to take ``seconds`` (default
``AUTODEV_ECHO_SECONDS``, 0; a stop request ends the wait), to fail with ``fail``
(``retryable`` or not), or to return ``output`` fields; a tool step passes. Its results say
``[echo runner]``; nothing that runs it pretends a model answered.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from autodev.orchestrator import queue
from autodev.orchestrator.execution import Execution, StopCheck
from autodev.orchestrator.queue import ClaimedTask


class EchoTaskRunner:
    name = "echo"

    def execute(self, task: ClaimedTask, should_stop: StopCheck, progress: Any) -> Execution:
        spec = task.context.get("echo") or {}
        # AUTODEV_ECHO_SECONDS: how long a task takes when its context does not say.
        seconds = float(spec.get("seconds", os.environ.get("AUTODEV_ECHO_SECONDS", 0)) or 0)
        waiter = threading.Event()
        waited = 0.0
        while waited < seconds:
            reason = should_stop()
            if reason:
                return Execution(ok=False, error=reason, retryable=False, provider="echo")
            step = min(0.05, seconds - waited)
            waiter.wait(step)
            waited += step
        if spec.get("fail"):
            return Execution(
                ok=False,
                provider="echo",
                error=str(spec["fail"]),
                retryable=bool(spec.get("retryable", True)),
                error_code=str(spec.get("error_code") or queue.ERROR_FAILED),
            )
        raw = spec.get("output")
        output: dict[str, Any] = raw if isinstance(raw, dict) else {}
        tool = task.context.get("tool")
        if tool and not output:
            # A tool step (the real worker runs the tool): what a tool says when all is well,
            # so the gate after it lets the workflow go on.
            output = {"tool": tool, "passed": True, "details": f"[echo runner] {tool}"}
        return Execution(
            ok=True, summary=f"[echo runner] {task.prompt[:500]}", fields=output, provider="echo"
        )


def main() -> None:
    """The worker's process with this runner instead of Claude Code (it ends the process)."""
    from autodev.local.lambdas import load_module
    from autodev.orchestrator.launchers import WORKER_SCRIPT

    load_module(WORKER_SCRIPT).run(runner=EchoTaskRunner())


if __name__ == "__main__":
    main()
