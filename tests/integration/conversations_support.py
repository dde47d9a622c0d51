"""Helpers of the conversation manager's tests: limits, generated conversations, and checks
made independently of autodev's own counting (the SDK's token counting, the API's rules)."""

from __future__ import annotations

import itertools
import random
from typing import Any

import anthropic
import pytest

from autodev.config import get_settings
from autodev.conversations import NewMessage, Role, ToolCall, render
from autodev.conversations.models import ConversationContext
from autodev.local.model.conversation import count_request
from autodev.local.model.server import ScriptedModelServer

WORDS = (
    *("trigger", "handler", "account", "opportunity", "bulk", "insert", "null", "pointer"),
    *("apex", "class", "test", "coverage", "deploy", "sandbox", "validation", "rule", "flow"),
    *("governor", "limits", "soql", "query", "selector", "service", "layer"),
)


def set_limits(monkeypatch: pytest.MonkeyPatch, max_tokens: int, threshold: int) -> None:
    monkeypatch.setenv("CONVERSATION_MAX_TOKENS", str(max_tokens))
    monkeypatch.setenv("CONVERSATION_SUMMARY_THRESHOLD", str(threshold))
    get_settings.cache_clear()


def stand_in_count(text: str) -> int:
    """What the stand-in's counting endpoint answers for ``text`` as one message: used as the
    count 'reported' for bulk messages, so that the bulk tests need no request per message."""
    return count_request({"messages": [{"role": "user", "content": text}]})


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def generated(count: int, seed: int = 7, start: int = 0) -> list[NewMessage]:
    """A conversation's worth of messages: user questions, answers, tool exchanges (a call and
    its result), autodev's notes; sizes from a few words to a few hundred."""
    rng = random.Random(seed)
    found: list[NewMessage] = []
    for number in range(start, start + count):
        kind = number % 7
        if kind == 3:
            calls = tuple(
                ToolCall(
                    id=f"toolu_{number}_{position}",
                    name=rng.choice(["Read", "Grep", "Bash"]),
                    input={"path": f"force-app/main/default/classes/C{number}.cls"},
                    result=sentence(rng, rng.randint(5, 250)),
                    is_error=rng.random() < 0.1,
                )
                for position in range(rng.randint(1, 3))
            )
            message = NewMessage(
                role=Role.ASSISTANT, content=f"step {number}: looking", tool_calls=calls
            )
        elif kind == 6:
            message = NewMessage(role=Role.SYSTEM, content=f"step {number} finished: ok")
        else:
            role = Role.USER if kind % 2 == 0 else Role.ASSISTANT
            message = NewMessage(
                role=role,
                content=f"#{number} " + sentence(rng, rng.randint(3, 300)),
                user_id="U1" if role is Role.USER else None,
            )
        text = render.counting_text(message.content, message.tool_calls)
        found.append(message.model_copy(update={"token_count": stand_in_count(text)}))
    return found


def sdk(server: ScriptedModelServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test", base_url=server.url, max_retries=0)


def counted_by_the_api(server: ScriptedModelServer, context: ConversationContext) -> int:
    """The context as the Messages API's counting endpoint counts it (not autodev's sum)."""
    client = sdk(server)
    messages: Any = context.messages or [{"role": "user", "content": "."}]
    with client:
        api = client.messages.count_tokens(
            model="claude-sonnet-4-6", system=context.system or anthropic.omit, messages=messages
        ).input_tokens
        agent = client.messages.count_tokens(
            model="claude-sonnet-4-6",
            messages=[{"role": "user", "content": context.appended_system_prompt or "."}],
        ).input_tokens
    return max(api, agent)


def assert_valid_for_the_api(messages: list[dict[str, Any]]) -> None:
    """Roles alternate from a user turn, and every tool call meets its result in the next
    message (first in it), and every result follows its call."""
    assert messages, "no messages"
    assert messages[0]["role"] == "user"
    for before, after in itertools.pairwise(messages):
        assert before["role"] != after["role"]
    for index, message in enumerate(messages):
        blocks = message["content"]
        uses = [block["id"] for block in blocks if block["type"] == "tool_use"]
        results = [block["tool_use_id"] for block in blocks if block["type"] == "tool_result"]
        if uses:
            following = messages[index + 1]["content"] if index + 1 < len(messages) else []
            answered = [b["tool_use_id"] for b in following if b["type"] == "tool_result"]
            assert answered[: len(uses)] == uses, f"tool calls {uses} without their results"
            assert [b["type"] for b in following[: len(uses)]] == ["tool_result"] * len(uses)
        if results:
            previous = messages[index - 1]["content"] if index > 0 else []
            called = [b["id"] for b in previous if b["type"] == "tool_use"]
            assert results == called, f"tool results {results} without their calls"


def summarise_in_process(
    env: dict[str, str], conversation_id: str, start: Any, results: Any, adds: int
) -> None:
    """A separate process: wait for the others, summarise if needed, then add messages.

    Puts (pid, whether this process stored a summary) on ``results``.
    """
    import os

    os.environ.update(env)
    from autodev.conversations import Role, add_message, summarize_if_needed

    start.wait(60)
    made = summarize_if_needed(conversation_id)
    for number in range(adds):
        add_message(conversation_id, Role.USER, f"from {os.getpid()}: {number}", token_count=20)
    results.put((os.getpid(), made is not None))
