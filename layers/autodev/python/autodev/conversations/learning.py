"""Learning from a conversation: its lasting facts become memories of its user and team."""

from __future__ import annotations

from autodev.config import Settings, get_settings
from autodev.conversations import render
from autodev.conversations.context import get_context_for_api
from autodev.conversations.memories import extract_memories
from autodev.conversations.models import Memory, MemorySource
from autodev.conversations.store import get_conversation, list_messages


def learn_from_conversation(conversation_id: str, settings: Settings | None = None) -> list[Memory]:
    """Extract the lasting facts of a conversation (its summary and the newest turns that fit
    the context) into memories: team facts for its Slack team, the rest for its user.

    Raises ModelCallFailed when the model cannot be reached; nothing is stored then.
    """
    settings = settings or get_settings()
    conversation = get_conversation(conversation_id, settings)
    context = get_context_for_api(conversation_id, settings=settings)
    wanted = set(context.message_ids)
    newest = [
        message
        for message in list_messages(
            conversation_id,
            include_summarized=False,
            limit=max(1, len(wanted) + 1),
            settings=settings,
        )
        if message.id in wanted
    ]
    parts = [f"Summary of the earlier conversation:\n{context.summary}"] if context.summary else []
    if newest:
        parts.append(f"The latest turns:\n{render.transcript(newest)}")
    return extract_memories(
        conversation.user_id,
        "\n\n".join(parts),
        team_id=conversation.team_id,
        conversation_id=conversation_id,
        source=MemorySource.CONVERSATION,
        source_ref=conversation_id,
        settings=settings,
    )
