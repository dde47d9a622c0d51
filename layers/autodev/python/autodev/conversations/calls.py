"""autodev's own calls to the model, through the ``anthropic`` SDK (see autodev.models.client).

Failures surface as ``ModelCallFailed`` with one line that names the kind of failure and the
HTTP status, never the request (which holds the conversation) or a credential.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autodev.config import Settings
from autodev.conversations.errors import ModelCallFailed
from autodev.conversations.models import TokenUsage
from autodev.models.client import messages_client


@dataclass(frozen=True)
class ModelAnswer:
    text: str
    usage: TokenUsage
    model: str
    stop_reason: str | None


def create_message(
    settings: Settings,
    *,
    model: str,
    system: str,
    messages: list[dict[str, Any]],
    max_tokens: int,
) -> ModelAnswer:
    """One ``messages.create`` call (not streamed: these answers are short)."""
    import anthropic

    try:
        response: Any = messages_client(settings).messages.create(
            model=model,
            max_tokens=max_tokens,
            system=system,
            messages=messages,  # type: ignore[arg-type]  # plain dicts of the API's shape
        )
    except anthropic.APIStatusError as error:
        raise ModelCallFailed(
            f"the model call failed: HTTP {error.status_code} ({type(error).__name__})"
        ) from error
    except anthropic.AnthropicError as error:
        raise ModelCallFailed(f"the model call failed: {type(error).__name__}") from error
    text = "".join(
        getattr(block, "text", "") for block in response.content if block.type == "text"
    ).strip()
    return ModelAnswer(text, TokenUsage.of(response.usage), model, response.stop_reason)
