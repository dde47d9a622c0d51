"""Deploy-time trigger: apply autodev's pending database migrations through RDS Proxy.

The database URL is built in memory from the secret (read with Powertools Parameters) and
handed to the Migrator as a setting; it is never written to the environment or a log.
"""

from __future__ import annotations

import time
from typing import Any

from autodev.config import load_settings
from autodev.db import DatabaseUnavailable
from autodev.db.migrate import Migrator
from autodev.db.pool import database_url
from autodev.observability import ASYNC, child_logger, lambda_handler

logger = child_logger("infra.migrate")


def _migrate_when_reachable(deadline_seconds: float = 240.0) -> list[Any]:
    """RDS Proxy can take a few minutes after CloudFormation creates it before it accepts
    connections; keep trying until the deadline (the function's timeout is five minutes)."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            # database_url() builds the URL in memory from DATABASE_SECRET_ARN and the proxy.
            return Migrator(load_settings(database_url=database_url())).up()
        except DatabaseUnavailable as error:
            if time.monotonic() >= deadline:
                raise
            logger.warning("database not reachable yet; retrying", extra={"error": str(error)})
            time.sleep(10)


@lambda_handler(correlation_id_path=ASYNC)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    applied = _migrate_when_reachable()
    labels = [migration.label for migration in applied]
    logger.info("migrations applied", extra={"applied": labels})
    return {"applied": labels}
