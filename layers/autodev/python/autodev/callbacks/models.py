"""What the callback system gives back: a cached result, an artifact, a delivery's state.

``to_json`` is the shape ``GET /results/{id}`` serves and ``autodev workflow result`` reads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Delivery(_Record):
    """One delivery of a result: where it goes, how far it got, and why it last failed."""

    id: str
    channel: str
    destination: str
    status: str  # pending, delivered, dead
    attempts: int
    max_attempts: int
    last_error: str | None
    last_status: int | None
    next_attempt_at: str | None  # ISO 8601, while pending
    delivered_at: str | None


class CachedResult(_Record):
    """A task's or workflow's cached result, with the state of its deliveries."""

    id: str
    target_id: str
    target_kind: str
    type: Literal["result"] = "result"
    name: str
    status: str
    created_at: str
    result: Any
    deliveries: list[Delivery]


class Artifact(_Record):
    """A large artifact (a diff, a report) stored for a task or workflow."""

    id: str
    target_id: str
    target_kind: str
    type: Literal["artifact"] = "artifact"
    name: str
    status: str
    created_at: str
    content_type: str | None
    size_bytes: int | None
    body: str | None
