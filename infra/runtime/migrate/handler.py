"""Deploy-time trigger: apply autodev's pending database migrations through RDS Proxy.

The database URL is built in memory from the secret (read with Powertools Parameters) and
handed to the Migrator as a setting; it is never written to the environment or a log.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters
from psycopg.conninfo import make_conninfo

from autodev.config import load_settings
from autodev.db import DatabaseUnavailable
from autodev.db.migrate import Migrator

logger = Logger(service="autodev-migrate")


def database_url() -> str:
    secret: Any = parameters.get_secret(os.environ["DATABASE_SECRET_ARN"], transform="json")
    return make_conninfo(
        host=os.environ["DATABASE_HOST"],
        port=os.environ.get("DATABASE_PORT", "5432"),
        dbname=os.environ.get("DATABASE_NAME", "autodev"),
        user=str(secret["username"]),
        password=str(secret["password"]),
        # RDS enforces TLS (rds.force_ssl); the variable exists for tests on a local server.
        sslmode=os.environ.get("DATABASE_SSLMODE", "require"),
        connect_timeout="10",
    )


def _migrate_when_reachable(deadline_seconds: float = 240.0) -> list[Any]:
    """RDS Proxy can take a few minutes after CloudFormation creates it before it accepts
    connections; keep trying until the deadline (the function's timeout is five minutes)."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            return Migrator(load_settings(database_url=database_url())).up()
        except DatabaseUnavailable as error:
            if time.monotonic() >= deadline:
                raise
            logger.warning("database not reachable yet; retrying", extra={"error": str(error)})
            time.sleep(10)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    applied = _migrate_when_reachable()
    labels = [migration.label for migration in applied]
    logger.info("migrations applied", extra={"applied": labels})
    return {"applied": labels}
