"""A scripted session: the assistant turns the scripted model server replays.

A script is a list of turns. Each turn is what the assistant says in one response: some text,
and tool calls (``Read``, ``Write``, ``Edit``, ``Bash``...) with their inputs. The server picks
the turn from the conversation it receives: the n-th assistant response is turn n, so a request
that Claude Code retries gets the same answer again. Past the last turn the model says it is
done, which ends the session cleanly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from autodev.errors import InvalidInput
from autodev.models.providers import SCRIPTED_NOTICE

__all__ = [
    "SCRIPTED_NOTICE",
    "Script",
    "ToolCall",
    "Turn",
    "estimate_tokens",
    "script_from_json",
    "script_to_json",
]


@dataclass(frozen=True)
class ToolCall:
    """One tool call the assistant makes."""

    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """One assistant response: text, then tool calls (which Claude Code runs and answers)."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def stop_reason(self) -> str:
        return "tool_use" if self.tool_calls else "end_turn"


@dataclass(frozen=True)
class Script:
    """The turns of one session, and a name that says what it plays."""

    name: str
    turns: tuple[Turn, ...]
    closing_text: str = field(default=f"{SCRIPTED_NOTICE} Done.")

    def turn_at(self, index: int) -> Turn:
        if 0 <= index < len(self.turns):
            return self.turns[index]
        return Turn(text=self.closing_text)

    def substitute(self, values: dict[str, str]) -> Script:
        """A copy with ``{name}`` placeholders in every string replaced (e.g. ``{workspace}``)."""

        def fill(value: Any) -> Any:
            if isinstance(value, str):
                for key, replacement in values.items():
                    value = value.replace("{" + key + "}", replacement)
                return value
            if isinstance(value, dict):
                return {key: fill(item) for key, item in value.items()}
            if isinstance(value, list):
                return [fill(item) for item in value]
            return value

        turns = tuple(
            Turn(
                text=fill(turn.text),
                tool_calls=tuple(ToolCall(call.name, fill(call.input)) for call in turn.tool_calls),
            )
            for turn in self.turns
        )
        return Script(self.name, turns, fill(self.closing_text))


def script_from_json(data: Any, name: str = "custom") -> Script:
    """Read a script given as JSON data: a list of turns ``{"text", "tool_calls": [...]}``.

    Each tool call is ``{"name": "Read", "input": {...}}``. Raises InvalidInput on a bad shape.
    """
    if isinstance(data, dict) and "turns" in data:
        name = str(data.get("name") or name)
        data = data["turns"]
    if not isinstance(data, list) or not data:
        raise InvalidInput("a scripted session is a non-empty list of turns")
    turns: list[Turn] = []
    for position, raw in enumerate(data, start=1):
        if not isinstance(raw, dict):
            raise InvalidInput(f"turn {position} of the scripted session is not an object")
        text = raw.get("text", "")
        calls_raw = raw.get("tool_calls", [])
        if not isinstance(text, str) or not isinstance(calls_raw, list):
            raise InvalidInput(f"turn {position}: text must be a string, tool_calls a list")
        calls: list[ToolCall] = []
        for call in calls_raw:
            if (
                not isinstance(call, dict)
                or not isinstance(call.get("name"), str)
                or not isinstance(call.get("input", {}), dict)
            ):
                raise InvalidInput(f"turn {position}: each tool call needs a name and an input")
            calls.append(ToolCall(call["name"], dict(call.get("input", {}))))
        if not text and not calls:
            raise InvalidInput(f"turn {position} has neither text nor tool calls")
        turns.append(Turn(text, tuple(calls)))
    return Script(name, tuple(turns))


def script_to_json(script: Script) -> dict[str, Any]:
    return {
        "name": script.name,
        "turns": [
            {
                "text": turn.text,
                "tool_calls": [{"name": c.name, "input": c.input} for c in turn.tool_calls],
            }
            for turn in script.turns
        ],
    }


def estimate_tokens(value: Any) -> int:
    """A stable token estimate (about four characters a token), as a tokenizer stand-in."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return max(1, (len(text) + 3) // 4)
