"""``GET /results/{id}``: a cached result (with its delivery status) or an artifact;
``POST /results/{id}/webhooks``: register a signed webhook for a running workflow's result.

API Gateway REST proxy event; authorisation (IAM or API key) is API Gateway's. ``id`` is a
result id, an artifact id, or the task/workflow id whose result is wanted; for a webhook, the
workflow (its id, execution name or short id). The webhook body is
``{"url": "https://...", "secret": "whsec_..."}`` (secret optional: generated and returned
once when absent; its format is ``whsec_`` + 24 to 64 random bytes in base64).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError

from autodev import runtime
from autodev.errors import InvalidInput, NotFound
from autodev.observability import API_GATEWAY, child_logger, lambda_handler

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.DATABASE)

logger = child_logger("functions.results_api")
app = APIGatewayRestResolver()


@app.get("/results/<result_id>")
def read_result(result_id: str) -> dict[str, Any] | Response[str]:
    # Loaded by the first request, not at import: the result cache's database and settings
    # cost more to import than the whole cold start may (issue 18).
    from autodev.callbacks import Artifact, get_result

    try:
        found = get_result(result_id)
    except NotFound as error:
        logger.info("no such result", extra={"result_id": result_id})
        raise NotFoundError(str(error)) from None
    except InvalidInput as error:
        logger.info("result request refused", extra={"result_id": result_id, "error": str(error)})
        raise BadRequestError(str(error)) from None
    if isinstance(found, Artifact) and app.current_event.get_query_string_value("raw") == "1":
        return Response(200, found.content_type or content_types.TEXT_PLAIN, found.body or "")
    return found.to_json()


@app.post("/results/<workflow_ref>/webhooks")
def register_webhook(workflow_ref: str) -> Response[str]:
    from autodev.workflows.webhooks import AlreadyFinished, add_webhook  # as in read_result

    try:
        body = app.current_event.json_body
    except ValueError:
        raise BadRequestError("the body must be a JSON object with a url") from None
    if not isinstance(body, dict) or not isinstance(body.get("url"), str):
        raise BadRequestError("the body must be a JSON object with a url")
    secret = body.get("secret")
    if secret is not None and not isinstance(secret, str):
        raise BadRequestError("secret must be a string (whsec_...)")
    try:
        registered = add_webhook(workflow_ref, body["url"], secret)
    except NotFound as error:
        raise NotFoundError(str(error)) from None
    except (InvalidInput, AlreadyFinished) as error:
        logger.info("webhook refused", extra={"workflow": workflow_ref, "error": str(error)})
        raise BadRequestError(str(error)) from None
    logger.info(
        "webhook registered",
        extra={"workflow_id": registered.workflow_id, "callback_id": registered.callback_id},
    )
    return Response(201, content_types.APPLICATION_JSON, json.dumps(registered.to_json()))


@lambda_handler(correlation_id_path=API_GATEWAY)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


__all__ = ["content_types", "handler"]
