"""Model providers for Claude Code: anthropic, bedrock, and a scripted Messages API server.

``scripted`` points Claude Code at ``AUTODEV_SCRIPTED_MODEL_URL``; the server itself (which
replays scripted sessions so the real CLI runs, calls real tools and edits real files without
an API key) is a local stand-in in ``autodev.local.model``. Everything that runs on it says so.
"""

from autodev.models.providers import (
    SCRIPTED_NOTICE,
    ProviderUnavailable,
    agent_environment,
    describe,
)

__all__ = ["SCRIPTED_NOTICE", "ProviderUnavailable", "agent_environment", "describe"]
