"""The spec's event hooks, published to an EventBridge bus as detail types.

Detail types: ``task:completed``, ``task:failed``, ``workflow:completed``,
``approval:requested``, ``progress:updated``, ``progress:completed``, ``alert``. The source is
always ``autodev``. On the local stack the bus is moto's EventBridge.
"""

from __future__ import annotations

import json
import os
from typing import Any

from autodev.aws import client

SOURCE = "autodev"
EVENT_TYPES = frozenset(
    {
        "task:completed",
        "task:failed",
        "workflow:completed",
        "approval:requested",
        "progress:updated",
        "progress:completed",
        "alert",
    }
)


def bus_name() -> str:
    return os.environ.get("AUTODEV_EVENT_BUS", "autodev")


def publish(detail_type: str, detail: dict[str, Any]) -> None:
    """Publish one event; raises ValueError for a detail type the spec does not define."""
    if detail_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {detail_type!r}")
    client("events").put_events(
        Entries=[
            {
                "Source": SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail, default=str),
                "EventBusName": bus_name(),
            }
        ]
    )
