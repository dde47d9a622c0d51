"""Answering in a conversation: the message is added, Claude answers from the context.

The answer is stored with the ``output_tokens`` the API reported for it (its real size) and
the call's usage (what was sent), which is added to the conversation's totals.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from autodev.config import Settings, get_settings
from autodev.conversations.calls import create_message
from autodev.conversations.context import get_context_for_api
from autodev.conversations.models import Message, Role, TokenUsage
from autodev.conversations.prompts import ANSWER_SYSTEM
from autodev.conversations.store import add_message

# An answer in Slack is short; a longer one is cut by the model at this size.
REPLY_MAX_TOKENS = 2048


class Reply(BaseModel):
    model_config = ConfigDict(frozen=True)

    question: Message
    answer: Message
    usage: TokenUsage
    # What the context held when it was sent (our count; ``usage.sent`` is the API's).
    context_tokens: int


def reply(
    conversation_id: str,
    text: str,
    *,
    user_id: str,
    system: str = ANSWER_SYSTEM,
    settings: Settings | None = None,
) -> Reply:
    """Add the user's message and Claude's answer to it (``AUTODEV_MODEL``).

    Raises ModelCallFailed when the model cannot be reached; the question stays recorded.
    """
    settings = settings or get_settings()
    question = add_message(conversation_id, Role.USER, text, user_id=user_id, settings=settings)
    context = get_context_for_api(
        conversation_id, system=system, user_id=user_id, settings=settings
    )
    answer = create_message(
        settings,
        model=settings.autodev_model,
        system=context.system,
        messages=context.messages,
        max_tokens=REPLY_MAX_TOKENS,
    )
    stored = add_message(
        conversation_id,
        Role.ASSISTANT,
        answer.text or "(no answer)",
        token_count=answer.usage.output_tokens or None,
        usage=answer.usage,
        settings=settings,
    )
    return Reply(
        question=question, answer=stored, usage=answer.usage, context_tokens=context.token_count
    )
