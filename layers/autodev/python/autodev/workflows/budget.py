"""A workflow's budget and what its tasks have cost so far, as ``records.workflow_budget``
reads them. Its own module, light to import: a worker reads it as each step starts, the first
one included, beside the step's workspace being made (``autodev.workflows.models`` and the
catalog it imports took 10-20 ms of a fresh worker's first step there, measured)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkflowBudget:
    """A workflow's budget (None: it has none) and what its tasks have cost so far."""

    limit_usd: float | None
    spent_usd: float

    @property
    def left_usd(self) -> float | None:
        return None if self.limit_usd is None else self.limit_usd - self.spent_usd
