"""Usage and cost: what each task's attempts used, and what a workflow's tasks have cost.

Other packages reach the cost of a workflow's tasks through ``workflow_spend`` rather than
reading ``autonomous_tasks`` themselves.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg

from autodev.db import in_transaction


def record_usage(
    conn: psycopg.Connection[Any],
    task_id: str,
    *,
    model: str | None,
    model_provider: str,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int,
    cache_creation_tokens: int,
    cost_usd: float,
    turns: int,
) -> None:
    """Add one attempt's usage to the task (a retried task's attempts all count)."""
    conn.execute(
        """UPDATE autonomous_tasks SET
               model = coalesce(%s, model), model_provider = %s,
               input_tokens = input_tokens + %s, output_tokens = output_tokens + %s,
               cache_read_tokens = cache_read_tokens + %s,
               cache_creation_tokens = cache_creation_tokens + %s,
               cost_usd = cost_usd + %s, turns = turns + %s, updated_at = now()
           WHERE id = %s""",
        (
            model,
            model_provider,
            input_tokens,
            output_tokens,
            cache_read_tokens,
            cache_creation_tokens,
            cost_usd,
            turns,
            task_id,
        ),
    )


def workflow_spend(workflow_id: str, *, conn: psycopg.Connection[Any] | None = None) -> Decimal:
    """What the workflow's tasks have cost so far, in US dollars (0 when it has none)."""
    with in_transaction(conn) as tx:
        row = tx.execute(
            "SELECT coalesce(sum(cost_usd), 0) AS spent FROM autonomous_tasks"
            " WHERE workflow_id = %s",
            (workflow_id,),
        ).fetchone()
    return Decimal(row["spent"]) if row is not None else Decimal(0)
