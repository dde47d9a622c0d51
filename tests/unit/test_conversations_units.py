"""The conversation manager's pure parts, with sockets off: rendering for the API and for
agents, the budget, relevance and keys, the estimate fallback, repository knowledge, the
settings it adds, and the scripted model's answers to autodev's own requests."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from autodev.config import ConfigError, ModelProvider, load_settings
from autodev.conversations import render
from autodev.conversations.budget import MAX_MEMORIES, Budget
from autodev.conversations.knowledge import repository_knowledge
from autodev.conversations.memories import normalise_key, parse_facts, rank, words
from autodev.conversations.models import (
    Memory,
    MemoryScope,
    MemorySource,
    Message,
    Role,
    TokenSource,
    TokenUsage,
    ToolCall,
)
from autodev.conversations.prompts import (
    ANSWER_SYSTEM,
    CONTINUED_NOTE,
    MEMORIES_HEADING,
    MEMORY_SYSTEM,
    SUMMARY_HEADING,
    SUMMARY_SYSTEM,
    kind_of,
)
from autodev.conversations.tokens import TokenCounter, estimate_tokens, upper_bound
from autodev.local.model import conversation as scripted
from autodev.models.client import messages_client, supports_token_counting
from autodev.models.providers import ProviderUnavailable

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _message(number: int, role: Role, content: str, *calls: ToolCall) -> Message:
    return Message(
        id=number,
        conversation_id="c",
        role=role,
        content=content,
        tool_calls=calls,
        user_id="U1" if role is Role.USER else None,
        token_count=10,
        token_source=TokenSource.COUNTED,
        summarized=False,
        created_at=NOW,
    )


CALL = ToolCall(id="t1", name="Read", input={"file_path": "a.cls"}, result="class A {}")
FAILED = ToolCall(id="t2", name="Bash", input={"command": "sf"}, result="boom", is_error=True)


def test_a_tool_exchange_becomes_the_call_then_its_results_first_in_the_next_turn() -> None:
    window = [
        _message(1, Role.USER, "look at A"),
        _message(2, Role.ASSISTANT, "Reading.", CALL, FAILED),
        _message(3, Role.USER, "and then?"),
        _message(4, Role.SYSTEM, "step verify finished"),
        _message(5, Role.ASSISTANT, "Done."),
    ]
    messages = render.api_messages(window)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert [b["type"] for b in messages[1]["content"]] == ["text", "tool_use", "tool_use"]
    assert messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "t1", "content": "class A {}"},
        {"type": "tool_result", "tool_use_id": "t2", "content": "boom", "is_error": True},
        {"type": "text", "text": "and then?"},
        {"type": "text", "text": "[autodev] step verify finished"},
    ]


def test_a_window_that_begins_with_the_assistant_gets_a_user_note_first() -> None:
    messages = render.api_messages([_message(7, Role.ASSISTANT, "", CALL)])
    assert messages[0] == {"role": "user", "content": [{"type": "text", "text": CONTINUED_NOTE}]}
    assert [b["type"] for b in messages[1]["content"]] == ["tool_use"]  # no empty text block
    assert messages[2]["content"][0]["tool_use_id"] == "t1"
    assert render.api_messages([]) == []


def test_transcripts_and_summary_requests_keep_calls_with_their_results() -> None:
    window = [_message(1, Role.USER, "look"), _message(2, Role.ASSISTANT, "Reading.", FAILED)]
    text = render.transcript(window)
    assert text.splitlines() == [
        "User U1: look",
        "",
        "Assistant: Reading.",
        '  [tool Bash {"command": "sf"}]',
        "  [error] boom",
    ]
    long = ToolCall(id="t3", name="Read", input={}, result="x" * 5000)
    request = render.summary_request("- earlier", [_message(3, Role.ASSISTANT, "", long)])
    assert request.startswith("Earlier summary:\n- earlier\n\nMessages to fold")
    assert "[... 3000 more characters]" in request
    counted = render.counting_text("Reading.", [CALL])
    assert json.loads(counted.split("\n", 1)[1])[0]["result"] == "class A {}"


def test_the_budget_shares_the_limit_out() -> None:
    budget = Budget(max_tokens=100_000, threshold=50_000)
    assert (budget.message_limit, budget.memories, budget.knowledge) == (25_000, 2_000, 20_000)
    assert (budget.summary_max, budget.keep_tokens, budget.fold_tokens) == (4_096, 12_500, 50_000)
    small = Budget(max_tokens=1_000, threshold=200)
    # A summary stays well under the threshold, or each summary would call for another.
    assert small.summary_max == 50
    assert small.summary_max + small.keep_tokens < small.threshold


def test_keys_deduplicate_and_words_ignore_case_punctuation_and_filler() -> None:
    assert normalise_key("  Run tests with RunLocalTests! ") == "run tests with runlocaltests"
    # Full-width letters (NFKC), underscores and dashes.
    key = normalise_key("\uff32un_tests\u2014with  runlocaltests")
    assert key == "run tests with runlocaltests"
    assert words("The org uses the Trigger-Handler pattern.") == {
        "org",
        "trigger",
        "handler",
        "pattern",
    }


def _memory(number: int, text: str, importance: int, tokens: int = 10, age: int = 0) -> Memory:
    return Memory(
        id=number,
        scope=MemoryScope.USER,
        user_id="U1",
        team_id=None,
        key=normalise_key(text),
        text=text,
        importance=importance,
        source=MemorySource.REQUEST,
        source_ref=None,
        conversation_id=None,
        token_count=tokens,
        created_at=NOW,
        updated_at=NOW - timedelta(days=age),
    )


def test_relevance_is_shared_words_plus_importance_within_the_budget() -> None:
    memories = [
        _memory(1, "Deploy with RunLocalTests", 3),
        _memory(2, "Deploy on Tuesdays with approval from Dana", 3),
        _memory(3, "Never push to main", 9),
        _memory(4, "Likes dark mode", 2),
        _memory(5, "A very long note about deploy windows", 10, tokens=500),
    ]
    ranked = rank(memories, "deploy with approval", budget_tokens=100)
    # 2 shares two words (2.3), 1 one (1.3), 3 none but is important enough (0.9); 4 is
    # unrelated, 5 does not fit the budget.
    assert [m.id for m in ranked] == [2, 1, 3]
    assert [m.id for m in rank(memories, "", budget_tokens=1_000)] == [5, 3, 1, 2, 4]
    many = [_memory(n, f"fact {n} about apex", 5, tokens=1) for n in range(50)]
    assert len(rank(many, "apex", budget_tokens=10_000)) == MAX_MEMORIES
    assert rank(memories, "deploy", budget_tokens=0) == []


def test_facts_are_read_from_the_first_json_array_in_the_answer() -> None:
    fenced = 'Here:\n```json\n[{"fact": "Use RunLocalTests", "importance": 7}]\n```'
    assert parse_facts(fenced) == [{"fact": "Use RunLocalTests", "importance": 7}]
    assert parse_facts('[scripted model] facts:\n[{"fact": "x"}]') == [{"fact": "x"}]
    assert parse_facts("no facts [here] at all") == []
    assert parse_facts("[1, 2]") == []


def test_the_estimate_is_used_where_counting_cannot_be_reached() -> None:
    assert estimate_tokens("") == 3
    assert estimate_tokens("abcdefghi") == 6  # ceil(9 / 3) + 3: deliberately high
    bedrock = load_settings(autodev_model_provider="bedrock")
    assert not supports_token_counting(bedrock)
    counter = TokenCounter(bedrock)
    assert counter.count("hello world") == (estimate_tokens("hello world"), TokenSource.ESTIMATE)
    # A provider not configured here (no scripted server, no key): estimated, not raised.
    unconfigured = load_settings(autodev_model_provider="anthropic", anthropic_api_key=None)
    assert TokenCounter(unconfigured).count("hello") == (
        estimate_tokens("hello"),
        TokenSource.ESTIMATE,
    )
    assert TokenUsage(input_tokens=3, cache_read_input_tokens=5, output_tokens=1).sent == 8
    assert TokenUsage.of({"input_tokens": 2, "output_tokens": None}).output_tokens == 0


class _CountingEndpoint:
    """A token counting endpoint that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def count(self, model: str, text: str) -> int:
        self.calls += 1
        return len(text) // 4 + 7


def test_an_upper_bound_is_given_without_counting_and_a_real_count_once_known() -> None:
    scripted_settings = load_settings(
        autodev_model_provider="scripted", autodev_scripted_model_url="http://127.0.0.1:9"
    )
    endpoint = _CountingEndpoint()
    counter = TokenCounter(scripted_settings, endpoint=endpoint)
    text = "Use the trigger handler; never put SOQL in a loop. " * 3
    assert counter.count(text, exact=False) == (upper_bound(text), TokenSource.ESTIMATE)
    assert endpoint.calls == 0
    exact = counter.count(text)
    assert exact[1] is TokenSource.COUNTED
    assert endpoint.calls == 1
    assert exact[0] <= upper_bound(text)
    assert counter.count(text, exact=False) == exact  # remembered: the real count
    assert counter.count("", exact=False) == (0, TokenSource.COUNTED)
    # Where counting is unavailable, the estimate as before.
    bedrock = TokenCounter(load_settings(autodev_model_provider="bedrock"))
    assert bedrock.count(text, exact=False) == (estimate_tokens(text), TokenSource.ESTIMATE)


def test_an_agent_steps_instructions_are_not_counted_when_they_fit_by_their_bound(
    tmp_path: Path,
) -> None:
    # Sockets are off here: a count would fail, so the bound is all that was used.
    settings = load_settings(
        autodev_model_provider="scripted", autodev_scripted_model_url="http://127.0.0.1:9"
    )
    found = repository_knowledge(_repository(tmp_path), settings=settings, exact=False)
    assert found is not None
    assert not found.truncated
    assert found.token_count == upper_bound(found.text)


def test_clients_follow_the_provider_and_say_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AUTODEV_SCRIPTED_MODEL_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ProviderUnavailable, match="AUTODEV_SCRIPTED_MODEL_URL"):
        messages_client(load_settings(autodev_model_provider="scripted"))
    with pytest.raises(ProviderUnavailable, match="ANTHROPIC_API_KEY"):
        messages_client(load_settings(autodev_model_provider="anthropic"))
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(ProviderUnavailable, match="AWS_REGION"):
        messages_client(load_settings(autodev_model_provider="bedrock"))
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    import anthropic

    bedrock = messages_client(load_settings(autodev_model_provider="bedrock"))
    assert isinstance(bedrock, anthropic.AnthropicBedrock)
    scripted_settings = load_settings(
        autodev_model_provider="scripted", autodev_scripted_model_url="http://127.0.0.1:9"
    )
    client = messages_client(scripted_settings)
    assert isinstance(client, anthropic.Anthropic)
    assert str(client.base_url).startswith("http://127.0.0.1:9")
    assert messages_client(scripted_settings) is client  # kept, its connections reused
    assert scripted_settings.model_provider is ModelProvider.SCRIPTED


def _repository(tmp_path: Path, instructions: str | None = "Use the trigger handler.") -> Path:
    repo = tmp_path / "repo"
    (repo / ".claude").mkdir(parents=True)
    (repo / ".claude" / "settings.json").write_text('{"hooks": {"PreToolUse": []}}')
    (repo / ".claude" / "CLAUDE.md").write_text("hidden instructions")
    if instructions is not None:
        (repo / "CLAUDE.md").write_text(instructions)
    return repo


def test_repository_knowledge_is_the_org_prompt_and_the_instructions_file_only(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        autodev_model_provider="bedrock", autodev_org_prompt="Org: Apex must be bulk-safe."
    )
    found = repository_knowledge(_repository(tmp_path), settings=settings)
    assert found is not None
    assert found.sources == ("AUTODEV_ORG_PROMPT", "CLAUDE.md")
    assert found.text.index("bulk-safe") < found.text.index("trigger handler")
    assert "hidden" not in found.text
    assert "hooks" not in found.text
    assert found.token_count == estimate_tokens(found.text)
    bare = load_settings(autodev_model_provider="bedrock")
    assert repository_knowledge(_repository(tmp_path / "b", None), settings=bare) is None
    assert repository_knowledge(None, settings=bare) is None


def test_repository_knowledge_refuses_links_out_and_cuts_what_is_too_long(
    tmp_path: Path,
) -> None:
    settings = load_settings(autodev_model_provider="bedrock")
    repo = _repository(tmp_path, None)
    (tmp_path / "outside.md").write_text("secret instructions")
    os.symlink(tmp_path / "outside.md", repo / "CLAUDE.md")
    assert repository_knowledge(repo, settings=settings) is None
    (repo / "CLAUDE.md").unlink()
    os.symlink(repo / ".claude" / "CLAUDE.md", repo / "CLAUDE.md")
    assert repository_knowledge(repo, settings=settings) is None
    (repo / "CLAUDE.md").unlink()
    (repo / "CLAUDE.md").write_text("rule. " * 20_000)
    cut = repository_knowledge(repo, settings=settings, max_tokens=10_000)
    assert cut is not None
    assert cut.truncated
    assert cut.token_count <= Budget(10_000, 5_000).knowledge
    assert cut.text.endswith("longer than the context allows]")
    custom = load_settings(
        autodev_model_provider="bedrock", autodev_instructions_file="docs/AGENTS.md"
    )
    (repo / "docs").mkdir()
    (repo / "docs" / "AGENTS.md").write_text("Agents read this.")
    chosen = repository_knowledge(repo, settings=custom)
    assert chosen is not None
    assert chosen.sources == ("docs/AGENTS.md",)


@pytest.mark.parametrize(
    "name", [".claude/settings.json", ".claude", "../CLAUDE.md", "/etc/passwd", "a//b", ""]
)
def test_the_instructions_file_setting_stays_inside_the_repository_and_out_of_claude(
    name: str,
) -> None:
    with pytest.raises(ConfigError, match="AUTODEV_INSTRUCTIONS_FILE"):
        load_settings(autodev_instructions_file=name)


def test_the_stand_in_knows_autodevs_requests_by_their_instructions() -> None:
    assert [kind_of(p) for p in (SUMMARY_SYSTEM, MEMORY_SYSTEM, ANSWER_SYSTEM)] == [
        "summary",
        "memories",
        "answer",
    ]
    assert kind_of("You are Claude Code.") is None
    assert scripted.request_kind({"system": "anything else"}) == "answer"


def test_the_scripted_summary_is_marked_made_of_first_lines_and_within_max_tokens() -> None:
    folded = "\n".join(f"[{n}] User U1: question {n} " + "y" * 300 for n in range(40))
    request = {
        "system": SUMMARY_SYSTEM,
        "max_tokens": 200,
        "messages": [
            {
                "role": "user",
                "content": f"Earlier summary:\n- old point\n\n"
                f"Messages to fold into the summary:\n{folded}",
            }
        ],
    }
    kind, text = scripted.answer_for(request)
    assert kind == "summary"
    assert text.startswith("[scripted model] summary")
    assert "question 39" in text  # the newest lines are kept
    assert scripted.usage_of(request, text)["output_tokens"] <= 200


def test_the_scripted_extraction_answers_the_json_the_instructions_ask_for() -> None:
    request = {
        "system": MEMORY_SYSTEM,
        "messages": [
            {
                "role": "user",
                "content": "We always use RunLocalTests. The run took 3 minutes. "
                "I prefer tabs over spaces.",
            }
        ],
    }
    kind, text = scripted.answer_for(request)
    assert kind == "memories"
    assert text.startswith("[scripted model]")
    assert parse_facts(text) == [
        {"fact": "We always use RunLocalTests.", "importance": 6, "scope": "team"},
        {"fact": "I prefer tabs over spaces.", "importance": 6, "scope": "user"},
    ]


def test_the_scripted_answer_repeats_the_newest_question_and_what_it_was_given() -> None:
    request = {
        "system": f"{ANSWER_SYSTEM}\n\n{MEMORIES_HEADING}\n- a\n- b\n\n{SUMMARY_HEADING}\n- x",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "first"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": "r"},
                    {"type": "text", "text": "[autodev] step done"},
                    {"type": "text", "text": "what changed?\nsecond line"},
                ],
            },
        ],
    }
    _, text = scripted.answer_for(request)
    assert text == (
        "[scripted model] You said: “what changed?”. In view: 3 message(s), "
        "the summary of earlier turns, 2 memories."
    )
    assert scripted.count_request(request) == scripted.usage_of(request, text)["input_tokens"]


def test_importing_the_manager_does_not_import_the_sdk() -> None:
    # The SDK takes seconds to import; a Lambda that only records messages should not pay it.
    import subprocess
    import sys

    script = "import sys, autodev.conversations; print('anthropic' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
