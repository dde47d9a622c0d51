"""The scripted model's answers to autodev's own requests (no task, no tools).

autodev's conversation manager asks for four kinds of answer, told apart by the system
prompt it sends (``autodev.conversations.prompts.kind_of``); each scripted answer is built
from the request alone, deterministically, and says it is scripted:

- **summary**: the earlier summary's lines, then one line per folded message (its speaker and
  the start of its first line), the oldest lines dropped first so that it stays within the
  request's ``max_tokens``.
- **memories**: each sentence of the text with a convention-like word in it ("always",
  "never", "prefer", "uses", "convention", "run tests", ...) becomes a fact, importance 6,
  scope ``team`` when it speaks of the org, the team or "our"/"we", else ``user``; as the
  JSON array the instructions ask for.
- **intent**: the message (after ``Message:``) is ``work`` when it does not read as a
  question (no ``?``, not opening with a question word) and names a change to make ("fix",
  "add", "also", "implement", "review", ...); else ``question``. The template is one the
  message names, else the thread's own.
- **answer**: repeats the start of the newest user message and says how much of the
  conversation it was given (messages, whether a summary, how many remembered facts).

Token usage is the same estimate as the rest of the server (about four characters a token):
``input_tokens`` for the system prompt and messages sent, ``output_tokens`` for the answer.
"""

from __future__ import annotations

import json
import re
from typing import Any

from autodev.conversations.intents import MESSAGE_LABEL, TEMPLATE_LABEL, TEMPLATES_LABEL
from autodev.conversations.prompts import MEMORIES_HEADING, SUMMARY_HEADING, kind_of
from autodev.local.model.script import SCRIPTED_NOTICE, estimate_tokens

_FIRST_LINE_CHARS = 100
_FACT_CUES = re.compile(
    r"\b(always|never|prefer|prefers|uses|use the|convention|standard|must|run tests|we use)\b",
    re.IGNORECASE,
)
_TEAM_CUES = re.compile(r"\b(org|organisation|organization|team|our|we)\b", re.IGNORECASE)
_QUESTION_WORDS = re.compile(
    r"^(what|why|how|when|where|which|who|whom|whose|did|does|do|is|are|was|were|can|could|"
    r"would|should|will|has|have)\b",
    re.IGNORECASE,
)
_WORK_CUES = re.compile(
    r"\b(also|fix|add|implement|change|update|refactor|write|remove|rename|make|create|"
    r"deploy|review|improve|rerun|re-run|retry|continue|please)\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_FOLDED = re.compile(r"^\[\d+\] (?P<speaker>[^:]+): ?(?P<text>.*)$")


def _text_of(content: Any) -> str:
    """The text of a message's content: a string, or its text blocks (not tool results)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(block.get("text", ""))
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        )
    return ""


def _system_text(request: dict[str, Any]) -> str:
    system = request.get("system") or ""
    return system if isinstance(system, str) else _text_of(system)


def request_kind(request: dict[str, Any]) -> str:
    """summary, memories, or answer (anything else without a task is answered as a question)."""
    return kind_of(_system_text(request)) or "answer"


def usage_of(request: dict[str, Any], text: str) -> dict[str, int]:
    return {
        "input_tokens": count_request(request),
        "output_tokens": estimate_tokens(text),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def count_request(request: dict[str, Any]) -> int:
    """What ``count_tokens`` answers: the estimate of the system prompt, messages and tools."""
    parts = {key: request[key] for key in ("system", "messages", "tools") if request.get(key)}
    return estimate_tokens(parts or "")


def _summary(request: dict[str, Any]) -> str:
    messages = request.get("messages") or []
    source = _text_of(messages[-1].get("content")) if messages else ""
    previous, _, folded = source.partition("Messages to fold into the summary:\n")
    lines: list[str] = []
    if previous.startswith("Earlier summary:\n"):
        lines += [
            line
            for line in previous.removeprefix("Earlier summary:\n").splitlines()
            if line.startswith("- ")
        ]
    for line in folded.splitlines():
        found = _FOLDED.match(line)
        if found:
            lines.append(f"- {found['speaker']}: {found['text'][:_FIRST_LINE_CHARS]}")
    header = f"{SCRIPTED_NOTICE} summary (the first lines of the messages, not a model's summary)"
    limit = max(1, int(request.get("max_tokens") or 1024)) * 4 - 8
    while lines and len(header) + sum(len(line) + 1 for line in lines) > limit:
        lines.pop(0)
    return "\n".join([header, *lines])[:limit]


def _memories(request: dict[str, Any]) -> str:
    messages = request.get("messages") or []
    text = "\n".join(_text_of(message.get("content")) for message in messages)
    facts: list[dict[str, Any]] = []
    seen: set[str] = set()
    for sentence in _SENTENCE.findall(text):
        fact = " ".join(sentence.split())
        if len(fact) < 12 or not _FACT_CUES.search(fact) or fact.casefold() in seen:
            continue
        seen.add(fact.casefold())
        scope = "team" if _TEAM_CUES.search(fact) else "user"
        facts.append({"fact": fact, "importance": 6, "scope": scope})
    return f"{SCRIPTED_NOTICE} facts found by keyword:\n{json.dumps(facts)}"


def _intent(request: dict[str, Any]) -> str:
    messages = request.get("messages") or []
    source = _text_of(messages[-1].get("content")) if messages else ""
    head, _, message = source.partition(MESSAGE_LABEL)
    own = templates = ""
    for line in head.splitlines():
        if line.startswith(TEMPLATE_LABEL):
            own = line.removeprefix(TEMPLATE_LABEL).strip()
        elif line.startswith(TEMPLATES_LABEL):
            templates = line.removeprefix(TEMPLATES_LABEL)
    text = message.strip()
    question = "?" in text or bool(_QUESTION_WORDS.match(text))
    if question or not _WORK_CUES.search(text):
        return f"{SCRIPTED_NOTICE} " + json.dumps({"intent": "question", "template": None})
    named = [name.strip() for name in templates.split(",") if name.strip()]
    template = next((name for name in named if name in text.lower()), own)
    return f"{SCRIPTED_NOTICE} " + json.dumps({"intent": "work", "template": template})


def _answer(request: dict[str, Any]) -> str:
    messages = request.get("messages") or []
    asked = ""
    for message in reversed(messages):
        if message.get("role") == "user":
            # The newest text: a user message may open with tool results and autodev's notes.
            content = message.get("content")
            blocks = content if isinstance(content, list) else [content]
            texts = [_text_of(block if isinstance(block, str) else [block]) for block in blocks]
            asked = next((text.strip() for text in reversed(texts) if text.strip()), "")
            if asked:
                break
    first = asked.splitlines()[0][:200] if asked else "(nothing)"
    system = _system_text(request)
    seen = [f"{len(messages)} message(s)"]
    if SUMMARY_HEADING in system:
        seen.append("the summary of earlier turns")
    if MEMORIES_HEADING in system:
        block = system.split(MEMORIES_HEADING, 1)[1].split("\n## ", 1)[0]
        seen.append(f"{sum(1 for line in block.splitlines() if line.startswith('- '))} memories")
    return f"{SCRIPTED_NOTICE} You said: “{first}”. In view: {', '.join(seen)}."


def answer_for(request: dict[str, Any]) -> tuple[str, str]:
    """The kind of the request and the scripted answer's text."""
    kind = request_kind(request)
    if kind == "summary":
        return kind, _summary(request)
    if kind == "memories":
        return kind, _memories(request)
    if kind == "intent":
        return kind, _intent(request)
    return kind, _answer(request)
