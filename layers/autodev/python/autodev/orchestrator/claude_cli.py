"""The Claude Code CLI as the worker runs it: where it is, its command line, what it prints.

The worker starts the CLI bundled in claude-agent-sdk itself (no Python process in between),
in print mode with ``--input-format stream-json`` and ``--output-format stream-json``: the
step's system prompt and its prompt go in on stdin (``step_input``: the ``initialize`` control
request claude-agent-sdk sends, then one user message), and the CLI prints one JSON message a
line. The CLI does most of its start-up before it reads its input, so the worker starts it
before the step's input is ready (the checkout, the system prompt) and writes it when it is.
``events`` turns each message into the worker's events, the same ones the session monitor, the
progress hook and the transcript read:

- ``init``: session id, tools, model (the CLI's ``system``/``init`` message);
- ``assistant``: message id, model, text, tool uses, usage and error of one assistant message
  (the CLI prints one per content block, all with the message's id and usage);
- ``tool_result``: tool use id, error flag and an excerpt of what the tool answered;
- ``result``: the CLI's final report (subtype, turns, cost, usage, usage per model).

The field names are the ones claude-agent-sdk's message parser reads (its ``AssistantMessage``,
``UserMessage`` and ``ResultMessage``); the SDK itself is not imported, since importing it
takes seconds and every worker would pay for it before its first step.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from autodev.errors import AutodevError

SDK_PACKAGE = "claude_agent_sdk"
# Tool output is summarised, not copied: the worker needs to see errors, not whole files.
EXCERPT_CHARS = 1500


class ClaudeCodeMissing(AutodevError):
    """The Claude Code CLI bundled in claude-agent-sdk is not installed here."""


@lru_cache(maxsize=1)
def cli_path() -> Path:
    """The CLI bundled in claude-agent-sdk (``<package>/_bundled/claude``), found without
    importing the package, which is where the SDK itself looks for it first."""
    spec = importlib.util.find_spec(SDK_PACKAGE)
    if spec is None or spec.origin is None:
        raise ClaudeCodeMissing(
            "claude-agent-sdk is not installed, so there is no Claude Code CLI to run "
            "(install the project's worker dependencies: uv sync)"
        )
    path = Path(spec.origin).parent / "_bundled" / "claude"
    if not path.is_file():
        raise ClaudeCodeMissing(f"claude-agent-sdk has no bundled Claude Code CLI at {path}")
    return path


@dataclass(frozen=True)
class SessionOptions:
    """What one step asks of Claude Code, as command-line options."""

    model: str
    allowed_tools: Sequence[str]
    max_turns: int
    max_budget_usd: float | None = None
    permission_mode: str = "acceptEdits"


def base_tool_names(allowed: Sequence[str]) -> list[str]:
    """``Bash(sf apex run test:*)`` -> ``Bash``: the tools to offer, from the permission rules."""
    names: list[str] = []
    for rule in allowed:
        name = rule.split("(", 1)[0].strip()
        if name and name not in names:
            names.append(name)
    return names


def command(options: SessionOptions, cli: Path | None = None) -> list[str]:
    """The CLI's command line for a step; its system prompt and prompt are written to its
    stdin (``step_input``).

    Every value is passed as ``--flag=value``, so a value that starts with a dash can never be
    read as another flag.
    """
    rules = list(options.allowed_tools)
    args = [
        str(cli or cli_path()),
        "--print",
        "--input-format=stream-json",
        "--output-format=stream-json",
        "--verbose",
        # Offer only the step's tools; the rules (``Bash(sf apex run test:*)``) say what runs
        # without asking, and anything else is refused, as nobody is there to ask.
        f"--tools={','.join(base_tool_names(rules))}",
        f"--allowedTools={','.join(rules)}",
        f"--max-turns={int(options.max_turns)}",
        f"--model={options.model}",
        f"--permission-mode={options.permission_mode}",
        # Workspaces hold other people's repositories: never load their settings or hooks.
        "--setting-sources=",
    ]
    if options.max_budget_usd is not None:
        args.append(f"--max-budget-usd={options.max_budget_usd}")
    return args


def step_input(prompt: str, system_append: str) -> bytes:
    """What the worker writes to the CLI's stdin for a step, then closes it: the
    ``initialize`` control request with the text appended to Claude Code's system prompt (as
    claude-agent-sdk sends it; never on the command line, which other users can read), then
    the prompt as one user message. The CLI answers the request with a ``control_response``,
    which ``events`` ignores."""
    initialize = {
        "type": "control_request",
        "request_id": "autodev-initialize",
        "request": {"subtype": "initialize", "appendSystemPrompt": system_append},
    }
    message = {
        "type": "user",
        "message": {"role": "user", "content": prompt},
        "parent_tool_use_id": None,
        "session_id": "",
    }
    return b"".join(json.dumps(line).encode() + b"\n" for line in (initialize, message))


def excerpt(content: Any) -> str:
    if isinstance(content, list):
        content = "\n".join(
            str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content
        )
    text = "" if content is None else str(content)
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def parse_line(line: bytes | str) -> dict[str, Any] | None:
    """One line the CLI printed, as a JSON object; None for anything else (a stray print)."""
    try:
        message = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return message if isinstance(message, dict) else None


def events(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The worker's events for one message of the CLI (none for messages it does not use)."""
    kind = message.get("type")
    if kind == "system" and message.get("subtype") == "init":
        return [
            {
                "type": "init",
                "session_id": message.get("session_id"),
                "tools": message.get("tools"),
                "model": message.get("model"),
            }
        ]
    if kind == "assistant":
        return [_assistant(message)]
    if kind == "user":
        return _tool_results(message)
    if kind == "result":
        return [_result(message)]
    return []


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    body = message.get("message")
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, list):
        return []
    return [block for block in content if isinstance(block, dict)]


def _assistant(message: dict[str, Any]) -> dict[str, Any]:
    raw = message.get("message")
    body: dict[str, Any] = raw if isinstance(raw, dict) else {}
    blocks = _blocks(message)
    return {
        "type": "assistant",
        "message_id": body.get("id"),
        "model": body.get("model"),
        "text": "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text"),
        "tool_uses": [
            {"id": b.get("id"), "name": b.get("name"), "input": b.get("input") or {}}
            for b in blocks
            if b.get("type") == "tool_use"
        ],
        "usage": body.get("usage") or {},
        "error": message.get("error"),
    }


def _tool_results(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "type": "tool_result",
            "tool_use_id": block.get("tool_use_id"),
            "is_error": bool(block.get("is_error")),
            "content": excerpt(block.get("content")),
        }
        for block in _blocks(message)
        if block.get("type") == "tool_result"
    ]


def _result(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "result",
        "subtype": message.get("subtype"),
        "is_error": bool(message.get("is_error")),
        "num_turns": message.get("num_turns"),
        "duration_ms": message.get("duration_ms"),
        "total_cost_usd": message.get("total_cost_usd"),
        "usage": message.get("usage") or {},
        "model_usage": message.get("modelUsage") or {},
        "result": message.get("result"),
        "stop_reason": message.get("stop_reason"),
        "terminal_reason": message.get("terminal_reason"),
        "errors": message.get("errors") or [],
        "session_id": message.get("session_id"),
    }
