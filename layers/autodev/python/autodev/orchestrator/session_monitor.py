"""What a Claude Code session has done so far, read from its events, and when to stop it.

Pure bookkeeping (no I/O), so that the rules are easy to test: assistant messages, turns, tool
calls, tokens per message (Claude Code reports one assistant message in several events, one per
content block, that share the message's id and usage, so a message and its usage are counted
once per id, and each tool use once), files written or edited, and the errors. ``messages`` is
what the model said (the progress card's figure); ``turns`` is the CLI's own count, which its
turn limit applies to and which also counts the turns that carry tool results back.
The same error three times in a row stops the session early: a model that keeps hitting the
same wall only burns budget.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autodev.events import Metrics

REPEATED_ERROR_LIMIT = 3
_EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})
# Parts of an error that differ between otherwise identical errors.
_VOLATILE = re.compile(r"toolu_\w+|\b[0-9a-f]{8,}\b|\d+(\.\d+)?\s*(ms|s)\b")


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    cost_usd: float = 0.0

    def add_message(self, usage: dict[str, Any]) -> None:
        self.input_tokens += int(usage.get("input_tokens") or 0)
        self.output_tokens += int(usage.get("output_tokens") or 0)
        self.cache_read_tokens += int(usage.get("cache_read_input_tokens") or 0)
        self.cache_creation_tokens += int(usage.get("cache_creation_input_tokens") or 0)

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_creation_tokens
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_creation_tokens": self.cache_creation_tokens,
            "cost_usd": round(self.cost_usd, 6),
        }


def _error_key(text: str) -> str:
    return _VOLATILE.sub("#", text.strip())[:500]


@dataclass
class SessionMonitor:
    """Feed it every event; ``observe`` returns a reason when the session must stop."""

    workspace: Path
    repeated_error_limit: int = REPEATED_ERROR_LIMIT
    usage: Usage = field(default_factory=Usage)
    model: str | None = None
    messages: int = 0
    turns: int = 0
    tool_calls: dict[str, int] = field(default_factory=dict)
    files_touched: list[str] = field(default_factory=list)
    last_text: str = ""
    texts: list[str] = field(default_factory=list)
    last_activity: str = ""
    errors: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    _seen_messages: set[str] = field(default_factory=set)
    _tool_names: dict[str, str] = field(default_factory=dict)
    _error_run: list[str] = field(default_factory=list)

    def observe(self, event: dict[str, Any]) -> str | None:
        kind = event.get("type")
        if kind == "init":
            self.model = event.get("model") or self.model
        elif kind == "assistant":
            return self._assistant(event)
        elif kind == "tool_result":
            return self._tool_result(event)
        elif kind == "result":
            self._result(event)
        return None

    def _assistant(self, event: dict[str, Any]) -> str | None:
        message_id = str(event.get("message_id") or "")
        if not message_id or message_id not in self._seen_messages:
            self._seen_messages.add(message_id)
            self.messages += 1
            self.turns = max(self.turns, self.messages)
            self.usage.add_message(event.get("usage") or {})
        self.model = event.get("model") or self.model
        text = str(event.get("text") or "")
        if text:
            self.last_text = text
            self.texts.append(text)
            self.last_activity = text.strip().splitlines()[0][:200] if text.strip() else ""
        for use in event.get("tool_uses") or []:
            name = str(use.get("name"))
            self.tool_calls[name] = self.tool_calls.get(name, 0) + 1
            self._tool_names[str(use.get("id"))] = name
            arguments = use.get("input") or {}
            self.last_activity = f"{name} {_describe_input(arguments)}".strip()[:200]
            if name in _EDIT_TOOLS:
                path = arguments.get("file_path") or arguments.get("notebook_path")
                if isinstance(path, str):
                    self._touch(path)
        if event.get("error"):
            return self._error(f"the model API answered with an error: {event['error']}")
        return None

    def _tool_result(self, event: dict[str, Any]) -> str | None:
        if not event.get("is_error"):
            self._error_run.clear()
            return None
        tool = self._tool_names.get(str(event.get("tool_use_id")), "a tool")
        return self._error(f"{tool} failed: {str(event.get('content') or '').strip()[:300]}")

    def _error(self, message: str) -> str | None:
        self.errors.append(message)
        key = _error_key(message)
        if self._error_run and self._error_run[-1] != key:
            self._error_run.clear()
        self._error_run.append(key)
        if len(self._error_run) >= self.repeated_error_limit:
            return f"stopped early: the same error {len(self._error_run)} times in a row: {message}"
        return None

    def _result(self, event: dict[str, Any]) -> None:
        self.result = event
        cost = event.get("total_cost_usd")
        if isinstance(cost, int | float):
            self.usage.cost_usd = float(cost)
        # The CLI's own totals are authoritative when it reports them (an early stop, such as
        # a budget reached, can report zeros; the per-message counts stand then).
        totals = event.get("usage") or {}
        if any(int(totals.get(key) or 0) for key in ("input_tokens", "output_tokens")):
            self.usage.input_tokens = int(totals.get("input_tokens") or 0)
            self.usage.output_tokens = int(totals.get("output_tokens") or 0)
            self.usage.cache_read_tokens = int(totals.get("cache_read_input_tokens") or 0)
            self.usage.cache_creation_tokens = int(totals.get("cache_creation_input_tokens") or 0)
        turns = event.get("num_turns")
        if isinstance(turns, int) and turns > self.turns:
            self.turns = turns
        model_usage = event.get("model_usage") or {}
        if isinstance(model_usage, dict) and model_usage and self.model is None:
            self.model = next(iter(model_usage))

    def _touch(self, path: str) -> None:
        try:
            relative = Path(path).resolve().relative_to(self.workspace.resolve()).as_posix()
        except ValueError:
            relative = path
        if relative not in self.files_touched:
            self.files_touched.append(relative)

    def metrics(self) -> Metrics:
        """Cumulative totals in the progress reporter's terms."""
        return Metrics(
            messages=self.messages,
            tokens=self.usage.total_tokens,
            cost_usd=round(self.usage.cost_usd, 6),
            files_modified=len(self.files_touched),
            tool_calls=sum(self.tool_calls.values()),
        )


def _describe_input(arguments: dict[str, Any]) -> str:
    for key in ("file_path", "command", "pattern", "path", "url"):
        value = arguments.get(key)
        if isinstance(value, str):
            return value
    return json.dumps(arguments)[:80] if arguments else ""


def final_json_object(text: str) -> dict[str, Any] | None:
    """The last JSON object in the answer (a fenced block or the whole text), if any.

    Steps ask for structured answers (``{"passed": true, ...}``); the fields go to the top of
    the task's result, where the workflow's choices read them.
    """
    candidates = re.findall(r"```(?:json)?\s*(\{.*?\})\s*```", text, flags=re.DOTALL)
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        candidates.append(stripped)
    for candidate in reversed(candidates):
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None
