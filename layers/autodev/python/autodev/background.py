"""Work started in a thread of its own, whose result is collected later.

For a call that can run while the caller does something else it does not depend on (a worker
sets up its agents' containment while it claims; reads a budget while it clones; the Slack
job posts a thread's first message while it checks a start): the call starts at once and the
caller takes its result, or what it raised, from the future when it needs it. The thread
carries the caller's log keys: a Lambda invocation's correlation id reaches its log lines and
the asynchronous invocations it makes.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from autodev.observability import with_current_keys

P = ParamSpec("P")
T = TypeVar("T")


def started(name: str, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
    """``call(*args, **kwargs)`` running from now in a thread named after ``name``; the thread
    ends with the call (nothing else is ever given to it)."""
    runner = ThreadPoolExecutor(1, thread_name_prefix=name)
    try:
        return runner.submit(with_current_keys(call), *args, **kwargs)
    finally:
        runner.shutdown(wait=False)
