"""``GET /results/{id}``: a cached result (with its delivery status) or an artifact.

API Gateway REST proxy event; authorisation (IAM or API key) is API Gateway's. ``id`` is a
result id, an artifact id, or the task/workflow id whose result is wanted.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError

from autodev import runtime
from autodev.callbacks import Artifact, get_result
from autodev.errors import InvalidInput, NotFound
from autodev.observability import API_GATEWAY, child_logger, lambda_handler

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.DATABASE)

logger = child_logger("functions.results_api")
app = APIGatewayRestResolver()


@app.get("/results/<result_id>")
def read_result(result_id: str) -> dict[str, Any] | Response[str]:
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


@lambda_handler(correlation_id_path=API_GATEWAY)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


__all__ = ["content_types", "handler"]
