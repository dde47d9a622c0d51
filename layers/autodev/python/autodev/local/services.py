"""Services that run beside the local AWS endpoint: scaler loop, Slack sink, API, delivery loop.

A package adds one by putting a module ``local_service.py`` in it (``autodev/<package>/
local_service.py``) with ``SERVICES = [LocalService(...)]``; :func:`discover` finds it, and
``autodev local up`` starts it in the local stack's process after the AWS resources exist.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from autodev.local.stack import LocalStack


class RunningService(Protocol):
    """What a service's ``start`` returns: something that can be stopped."""

    def stop(self) -> None: ...


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


def discover() -> list[LocalService]:
    """Every ``SERVICES`` entry of an ``autodev.<package>.local_service`` module."""
    import autodev

    found: list[LocalService] = []
    for package in pkgutil.iter_modules(autodev.__path__):
        if not package.ispkg:
            continue
        name = f"autodev.{package.name}.local_service"
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        found.extend(getattr(module, "SERVICES", ()))
    return sorted(found, key=lambda service: (service.order, service.name))
