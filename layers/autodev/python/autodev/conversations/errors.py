"""The conversation manager's errors (one line each, meant for the person who asked)."""

from __future__ import annotations

from autodev.errors import AutodevError, InvalidInput


class ContextTooLarge(InvalidInput):
    """The fixed parts of a context (system prompt, instructions, summary) and the newest
    message do not fit within the token limit together; nothing was sent."""


class ModelCallFailed(AutodevError):
    """A call to the model failed after the SDK's retries (the message says how)."""
