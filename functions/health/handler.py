"""``GET /health``: every health check's state and latency; 503 naming those that fail.

API Gateway REST proxy event. The body::

    {"status": "ok" | "failing", "failing": ["database", ...],
     "checks": [{"name", "state": "ok" | "failing" | "skipped", "milliseconds"}]}

The route has no authorization (uptime monitors cannot sign), so the answer names states
only: what each check found (a host name, a version) is in ``/monitor`` and
``autodev monitor``, and in this function's log line when one fails. A skipped check (its
dependency is not configured) never makes the answer 503. The model API and Slack answers are
cached a minute in a warm function, so frequent probes stay cheap.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from autodev import runtime
from autodev.observability import API_GATEWAY, child_logger, lambda_handler

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.DATABASE, runtime.SLACK_BOT_TOKEN, runtime.MODEL_PROVIDER)

logger = child_logger("functions.health")
app = APIGatewayRestResolver()


@app.get("/health")
def health() -> Response[str]:
    # Loaded by the first request, not at import: the checks' database, settings and clients
    # cost more to import than the whole cold start may (issue 18).
    from autodev.monitoring import failing, run_health_checks

    results = run_health_checks()
    down = [check.name for check in failing(results)]
    body = {
        "status": "failing" if down else "ok",
        "failing": down,
        "checks": [
            {
                "name": check.name,
                "state": check.state,
                "milliseconds": check.milliseconds,
            }
            for check in results
        ],
    }
    if down:
        logger.warning(
            "health checks failing",
            extra={"failing": {c.name: c.detail for c in results if not c.healthy}},
        )
    return Response(
        503 if down else 200,
        content_types.APPLICATION_JSON,
        json.dumps(body),
        headers={"Cache-Control": "no-store"},
    )


@lambda_handler(correlation_id_path=API_GATEWAY)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
