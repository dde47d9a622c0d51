"""Result callbacks: the spec's ResultCallbackSystem.

Results are cached in ``task_results`` (served by ``GET /results/{id}`` and
``autodev workflow result ID``) and delivered to every callback registered for the task or
workflow: a Slack message with buttons, a signed webhook, an EventBridge event. The result
and its deliveries are written in one transaction; ``deliver_due`` (the deliver_results
function) sends them at least once each, with a stable id, retrying with backoff over hours.

Public API (a contract; other components call these)::

    register_callback(target_id, spec, *, target_kind="workflow", conn=None) -> str
    deliver_result(target_id, result, *, target_kind="workflow", conn=None,
                   finish_progress=True) -> str
    save_artifact(target_id, name, body, *, content_type="text/plain", target_kind="task",
                  conn=None) -> str
    get_result(result_or_target_id) -> CachedResult | Artifact
    delivery_status(target_id) -> list[Delivery]
    deliver_due(*, now=None, limit=50, ids=None) -> DeliveryReport
    callback_secret(callback_id) -> str
    kick_delivery() -> None   # after the transaction that called deliver_result commits

The package's names load lazily (``__getattr__``): ``from autodev.callbacks import
kick_delivery`` imports ``autodev.callbacks.delivery`` and not the Slack and webhook channels,
the result cache or the outbox, so a handler that only kicks deliveries (workflow_finished)
does not pay for them at cold start (issue 18).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autodev.lazy import lazy_names

if TYPE_CHECKING:
    from autodev.callbacks.delivery import DeliveryReport, deliver_due, kick_delivery
    from autodev.callbacks.models import Artifact, CachedResult, Delivery
    from autodev.callbacks.outbox import delivery_status
    from autodev.callbacks.registry import callback_secret, register_callback
    from autodev.callbacks.results import (
        deliver_result,
        finish_progress,
        get_result,
        result_status,
        save_artifact,
    )

# Each public name, and the module of this package that defines it.
_WHERE = {
    "Artifact": "models",
    "CachedResult": "models",
    "Delivery": "models",
    "DeliveryReport": "delivery",
    "callback_secret": "registry",
    "deliver_due": "delivery",
    "deliver_result": "results",
    "delivery_status": "outbox",
    "finish_progress": "results",
    "get_result": "results",
    "kick_delivery": "delivery",
    "register_callback": "registry",
    "result_status": "results",
    "save_artifact": "results",
}


__getattr__, __dir__ = lazy_names(__name__, _WHERE)


__all__ = [
    "Artifact",
    "CachedResult",
    "Delivery",
    "DeliveryReport",
    "callback_secret",
    "deliver_due",
    "deliver_result",
    "delivery_status",
    "finish_progress",
    "get_result",
    "kick_delivery",
    "register_callback",
    "result_status",
    "save_artifact",
]
