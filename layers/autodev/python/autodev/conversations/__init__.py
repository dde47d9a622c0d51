"""The conversation manager: a Slack thread is a conversation that Claude remembers.

It owns ``conversations``, ``conversation_messages`` and ``user_memories``; no other module
reads them. The parts:

- ``store``: one conversation per Slack thread (with the workflow started in it), messages
  (a tool call stored with its result), list, archive, delete.
- ``context``: ``get_context_for_api``, the context within ``CONVERSATION_MAX_TOKENS``, as
  the Messages API takes it (system, messages) and as an agent step takes it (an appended
  system prompt).
- ``summaries``: past ``CONVERSATION_SUMMARY_THRESHOLD``, older messages folded by Claude
  (``AUTODEV_SUMMARY_MODEL``) into a stored summary, once per crossing.
- ``memories``: facts kept across sessions, per user and per team; ``learning`` extracts a
  conversation's.
- ``knowledge``: the organisation's prompt and the repository's instructions file.
- ``replies``: Claude's answer to a message, from the context.
- ``intents``: whether a message in a workflow's thread asks a question or for more work.
- ``runs``: workflows in their thread's conversation (started, steps, finished, learning)
  and the context an agent step is given.
- ``tokens``: real token counts (reported usage, the counting endpoint), else an estimate.
"""

from autodev.conversations.context import get_context_for_api
from autodev.conversations.errors import ContextTooLarge, ModelCallFailed
from autodev.conversations.intents import Intent, IntentKind
from autodev.conversations.knowledge import repository_knowledge
from autodev.conversations.learning import learn_from_conversation
from autodev.conversations.memories import (
    extract_memories,
    forget,
    list_memories,
    normalise_key,
    remember,
)
from autodev.conversations.models import (
    Conversation,
    ConversationContext,
    Memory,
    MemoryScope,
    MemorySource,
    Message,
    RepositoryKnowledge,
    Role,
    Summary,
    TokenSource,
    TokenUsage,
    ToolCall,
)
from autodev.conversations.replies import Reply, reply
from autodev.conversations.store import (
    NewMessage,
    add_message,
    add_messages,
    archive_conversation,
    conversation_for_thread,
    conversation_for_workflow,
    delete_conversation,
    get_conversation,
    get_or_create_conversation,
    list_conversations,
    list_messages,
)
from autodev.conversations.summaries import summarize_if_needed

__all__ = [
    "ContextTooLarge",
    "Conversation",
    "ConversationContext",
    "Intent",
    "IntentKind",
    "Memory",
    "MemoryScope",
    "MemorySource",
    "Message",
    "ModelCallFailed",
    "NewMessage",
    "Reply",
    "RepositoryKnowledge",
    "Role",
    "Summary",
    "TokenSource",
    "TokenUsage",
    "ToolCall",
    "add_message",
    "add_messages",
    "archive_conversation",
    "conversation_for_thread",
    "conversation_for_workflow",
    "delete_conversation",
    "extract_memories",
    "forget",
    "get_context_for_api",
    "get_conversation",
    "get_or_create_conversation",
    "learn_from_conversation",
    "list_conversations",
    "list_memories",
    "list_messages",
    "normalise_key",
    "remember",
    "reply",
    "repository_knowledge",
    "summarize_if_needed",
]
