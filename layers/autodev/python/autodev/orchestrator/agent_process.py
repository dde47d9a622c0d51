"""The process that runs one Claude Code session: ``python -m autodev.orchestrator.agent_process``.

The worker starts it with a scrubbed environment (see ``autodev.models.providers``) in a new
process group, writes one JSON request to its stdin, and reads one JSON event per line from
its stdout. Running the SDK here, not in the worker, is what keeps the worker's secrets out of
Claude Code: claude-agent-sdk passes its own process environment on to the CLI, and this
process has nothing in its environment that the agent may not see. It also gives the worker
one process group to kill when the task's time is up.

Events: ``started`` (pid), ``init`` (session, tools, model), ``assistant`` (message id, text,
tool uses, usage), ``tool_result`` (tool use id, error flag, an excerpt), ``result`` (the
CLI's final report: subtype, turns, cost, usage per model), ``error`` (the SDK failed).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import anyio

# Tool output is summarised, not copied: the worker needs to see errors, not whole files.
_EXCERPT = 1500


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event, default=str) + "\n")
    sys.stdout.flush()


def _excerpt(content: Any) -> str:
    if isinstance(content, list):
        content = "\n".join(
            str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content
        )
    text = "" if content is None else str(content)
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"


async def run(request: dict[str, Any]) -> int:
    from claude_agent_sdk import (
        AssistantMessage,
        ClaudeAgentOptions,
        ResultMessage,
        SystemMessage,
        TextBlock,
        ToolResultBlock,
        ToolUseBlock,
        UserMessage,
        query,
    )

    from autodev.orchestrator.runner import base_tool_names

    rules = list(request["allowed_tools"])
    options = ClaudeAgentOptions(
        cwd=request["cwd"],
        model=request["model"],
        # Offer only the step's tools; the rules (``Bash(sf apex run test:*)``) say what runs
        # without asking, and anything else is refused, as nobody is there to ask.
        tools=base_tool_names(rules),
        allowed_tools=rules,
        permission_mode=request.get("permission_mode", "acceptEdits"),
        max_turns=int(request["max_turns"]),
        max_budget_usd=request.get("max_budget_usd"),
        # Workspaces hold other people's repositories: never load their settings or hooks.
        setting_sources=[],
        system_prompt={
            "type": "preset",
            "preset": "claude_code",
            "append": request.get("system_append", ""),
        },
        stderr=lambda line: print(line, file=sys.stderr, flush=True),
    )
    _emit({"type": "started", "pid": os.getpid()})
    async for message in query(prompt=request["prompt"], options=options):
        if isinstance(message, SystemMessage):
            if message.subtype == "init":
                data = message.data
                _emit(
                    {
                        "type": "init",
                        "session_id": data.get("session_id"),
                        "tools": data.get("tools"),
                        "model": data.get("model"),
                    }
                )
        elif isinstance(message, AssistantMessage):
            text = "".join(block.text for block in message.content if isinstance(block, TextBlock))
            uses = [
                {"id": block.id, "name": block.name, "input": block.input}
                for block in message.content
                if isinstance(block, ToolUseBlock)
            ]
            _emit(
                {
                    "type": "assistant",
                    "message_id": message.message_id,
                    "model": message.model,
                    "text": text,
                    "tool_uses": uses,
                    "usage": message.usage or {},
                    "error": message.error,
                }
            )
        elif isinstance(message, UserMessage) and isinstance(message.content, list):
            for block in message.content:
                if isinstance(block, ToolResultBlock):
                    _emit(
                        {
                            "type": "tool_result",
                            "tool_use_id": block.tool_use_id,
                            "is_error": bool(block.is_error),
                            "content": _excerpt(block.content),
                        }
                    )
        elif isinstance(message, ResultMessage):
            _emit(
                {
                    "type": "result",
                    "subtype": message.subtype,
                    "is_error": message.is_error,
                    "num_turns": message.num_turns,
                    "duration_ms": message.duration_ms,
                    "total_cost_usd": message.total_cost_usd,
                    "usage": message.usage or {},
                    "model_usage": message.model_usage or {},
                    "result": message.result,
                    "stop_reason": message.stop_reason,
                    "terminal_reason": message.terminal_reason,
                    "errors": message.errors or [],
                    "session_id": message.session_id,
                }
            )
    return 0


def main() -> int:
    request = json.loads(sys.stdin.read())
    try:
        return anyio.run(run, request)
    except Exception as error:  # reported to the worker as an event, which decides the outcome
        _emit({"type": "error", "message": f"{type(error).__name__}: {error}"[:2000]})
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
