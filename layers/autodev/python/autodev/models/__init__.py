"""Model providers for Claude Code: anthropic, bedrock, and autodev's scripted server.

``scripted`` is a small Anthropic Messages API server on loopback (``server``) that replays a
scripted session (``script``, ``sessions``), so that the real Claude Code CLI runs, calls real
tools and edits real files without an API key. Everything that runs on it says so.
"""

from autodev.models.providers import ProviderUnavailable, agent_environment, describe
from autodev.models.script import SCRIPTED_NOTICE, Script, ToolCall, Turn, script_from_json
from autodev.models.server import ScriptedModelServer

__all__ = [
    "SCRIPTED_NOTICE",
    "ProviderUnavailable",
    "Script",
    "ScriptedModelServer",
    "ToolCall",
    "Turn",
    "agent_environment",
    "describe",
    "script_from_json",
]
