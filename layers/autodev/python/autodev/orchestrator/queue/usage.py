"""Usage and cost: what each task's attempts used, and what a workflow's tasks have cost.

Other packages reach the cost of a workflow's tasks through ``workflow_spend`` rather than
reading ``autonomous_tasks`` themselves.
"""

from __future__ import annotations

from datetime import datetime
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


def usage_since(
    since: datetime, *, conn: psycopg.Connection[Any] | None = None
) -> list[dict[str, Any]]:
    """Tasks by status and model with their summed tokens and cost: those that finished since
    ``since`` and those queued or running now (so a long task counts before it ends). Rows:
    status, model, model_provider, n, input_tokens, output_tokens, cache_read_tokens,
    cache_creation_tokens, cost_usd."""
    with in_transaction(conn) as tx:
        rows = tx.execute(
            """SELECT status, model, model_provider, count(*) AS n,
                      sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
                      sum(cache_read_tokens) AS cache_read_tokens,
                      sum(cache_creation_tokens) AS cache_creation_tokens,
                      sum(cost_usd) AS cost_usd
               FROM autonomous_tasks
               WHERE finished_at >= %(since)s OR status IN ('queued', 'running')
               GROUP BY status, model, model_provider""",
            {"since": since},
        ).fetchall()
    return [dict(row) for row in rows]


def workflow_spend(workflow_id: str, *, conn: psycopg.Connection[Any] | None = None) -> Decimal:
    """What the workflow's tasks have cost so far, in US dollars (0 when it has none)."""
    with in_transaction(conn, autocommit=True) as tx:
        row = tx.execute(
            "SELECT coalesce(sum(cost_usd), 0) AS spent FROM autonomous_tasks"
            " WHERE workflow_id = %s",
            (workflow_id,),
        ).fetchone()
    return Decimal(row["spent"]) if row is not None else Decimal(0)
