"""Sorting a thread's message: the scripted model's deterministic rule, and how autodev reads
an answer (whatever the model says, an unreadable answer starts nothing)."""

from __future__ import annotations

import json

import pytest

from autodev.conversations.intents import request_text
from autodev.conversations.prompts import INTENT_SYSTEM, kind_of
from autodev.local.model.conversation import answer_for

TEMPLATES = ("bug-fix", "code-review", "deployment", "full-analysis-improvement")


def _scripted(text: str, template: str = "bug-fix") -> dict[str, object]:
    request = {
        "system": INTENT_SYSTEM,
        "messages": [{"role": "user", "content": request_text(text, template, TEMPLATES)}],
    }
    kind, answer = answer_for(request)
    assert kind == "intent"
    parsed: dict[str, object] = json.loads(answer[answer.index("{") :])
    return parsed


@pytest.mark.parametrize(
    ("text", "intent", "template"),
    [
        ("also fix the test class", "work", "bug-fix"),
        ("please run a code-review of the handler", "work", "code-review"),
        ("what did the fix change?", "question", None),
        ("did it also fix the test class", "question", None),
        ("thanks, looks good", "question", None),
    ],
)
def test_the_scripted_model_sorts_questions_from_work(
    text: str, intent: str, template: str | None
) -> None:
    assert _scripted(text) == {"intent": intent, "template": template}


def test_the_intent_prompt_is_told_apart() -> None:
    assert kind_of(INTENT_SYSTEM) == "intent"
