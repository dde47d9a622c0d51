"""What a message in a workflow's thread asks for: an answer, or more work.

Claude (``AUTODEV_SUMMARY_MODEL``, small and fast) sorts it, given the thread's template and
the templates there are; its answer is a small JSON object. An answer that cannot be read, or
names a template that does not exist, falls back to the safe reading: a question (nothing is
started), or for work, the thread's own template.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from autodev.config import Settings, get_settings
from autodev.conversations.calls import create_message
from autodev.conversations.prompts import INTENT_SYSTEM

_INTENT_MAX_TOKENS = 256
# Labels of the request's lines (the scripted model server reads them too).
TEMPLATE_LABEL = "The thread's workflow template: "
TEMPLATES_LABEL = "Templates: "
MESSAGE_LABEL = "Message:\n"


class IntentKind(StrEnum):
    QUESTION = "question"
    WORK = "work"


class Intent(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: IntentKind
    # For work: the template of the follow-up run.
    template: str | None = None


def request_text(text: str, template: str, templates: Collection[str]) -> str:
    return (
        f"{TEMPLATE_LABEL}{template}\n{TEMPLATES_LABEL}{', '.join(sorted(templates))}\n"
        f"{MESSAGE_LABEL}{text}"
    )


def _parsed(answer: str) -> dict[str, object]:
    decoder = json.JSONDecoder()
    for start in (index for index, char in enumerate(answer) if char == "{"):
        try:
            value, _ = decoder.raw_decode(answer, start)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def classify(
    text: str,
    *,
    template: str,
    templates: Collection[str],
    settings: Settings | None = None,
) -> Intent:
    """Whether ``text`` asks about the thread's run or for more work (and of which template).

    Raises ModelCallFailed when the model cannot be reached.
    """
    settings = settings or get_settings()
    answer = create_message(
        settings,
        model=settings.autodev_summary_model,
        system=INTENT_SYSTEM,
        messages=[{"role": "user", "content": request_text(text, template, templates)}],
        max_tokens=_INTENT_MAX_TOKENS,
    )
    found = _parsed(answer.text)
    if found.get("intent") != IntentKind.WORK.value:
        return Intent(kind=IntentKind.QUESTION)
    named = found.get("template")
    chosen = named if isinstance(named, str) and named in templates else template
    return Intent(kind=IntentKind.WORK, template=chosen)
