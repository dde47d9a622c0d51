"""A task runner without Claude Code, for queue tests and benchmarks (AUTODEV_WORKER_RUNNER=echo).

It answers with the prompt. ``context["echo"]`` can ask it to take ``seconds`` (default
``AUTODEV_ECHO_SECONDS``, 0; a stop request ends the wait), to fail with ``fail``
(``retryable`` or not), or to return ``output`` fields. Its results say ``[echo runner]``;
nothing that runs it pretends a model answered.
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
        return Execution(
            ok=True, summary=f"[echo runner] {task.prompt[:500]}", fields=output, provider="echo"
        )
