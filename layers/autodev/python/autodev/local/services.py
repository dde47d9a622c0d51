"""Services that run beside the local AWS endpoint: the starter's access, Slack sink and
gateway, scripted model, repository host, the stand-in sf and its orgs, workflow
reconciler, rescuer, result delivery, the alert evaluator and metric retention, the schedule ticker.

Each is a :class:`LocalService`; :func:`default_services` lists every one the local stack
runs (``autodev local up``, the demo). Adding a service means adding it to that list.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from autodev.local.stack import LocalStack


class RunningService(Protocol):
    """What a service's ``start`` returns: something that can be stopped."""

    def stop(self) -> None: ...


class ThreadService:
    """A service that is one background thread, told to stop through its event; ``after``
    runs once the thread has ended (e.g. to stop what the loop started)."""

    def __init__(
        self,
        thread: threading.Thread,
        stop: threading.Event,
        after: Callable[[], object] | None = None,
    ) -> None:
        self.thread, self.stop_event, self._after = thread, stop, after

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=30)
        if self._after is not None:
            self._after()


@dataclass(frozen=True)
class LocalService:
    """A service of the local stack.

    ``start(stack)`` runs in the stack's process once its moto server, Lambda functions, state
    machines and event bus exist (``stack.endpoint_url``, the exported AWS environment and the
    database are ready). To tell other processes how to reach the service, call
    ``stack.export(NAME, value)``: it is set in this process's environment and written to
    ``local.json``, from which ``autodev.local.activate()`` sets it in theirs.
    Services start in ``order`` (then name) and stop in reverse.
    """

    name: str
    start: Callable[[LocalStack], RunningService]
    order: int = 100
    description: str = ""


def default_services() -> list[LocalService]:
    """Every service of the local stack, in start order."""
    # Imported here: each service module imports this one for LocalService.
    from autodev.local import (
        access,
        delivery,
        git_host,
        monitoring,
        orchestrator,
        reconcile,
        salesforce,
        scheduler,
    )
    from autodev.local.model import service as scripted_model
    from autodev.local.slack import services as slack

    found = [
        access.SERVICE,
        *slack.SERVICES,
        scripted_model.SERVICE,
        git_host.SERVICE,
        salesforce.SERVICE,
        reconcile.SERVICE,
        orchestrator.SERVICE,
        delivery.SERVICE,
        monitoring.SERVICE,
        scheduler.SERVICE,
    ]
    return sorted(found, key=lambda service: (service.order, service.name))
