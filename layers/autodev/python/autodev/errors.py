"""The error every autodev failure that a user should read derives from.

Entry points (the CLI, Lambda handlers, Slack replies) show ``str(error)`` of an
``AutodevError`` as is: one line, already phrased for a person, never a traceback.
"""


class AutodevError(Exception):
    """A failure with a message meant for the person who asked."""


class NotFound(AutodevError):
    """The thing asked for does not exist."""


class InvalidInput(AutodevError):
    """The request is malformed or fails validation; nothing was changed."""


class ConfigError(AutodevError):
    """A setting is missing or has a value that autodev cannot use."""
