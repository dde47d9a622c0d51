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
"""

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
