"""The ``autodev`` command line.

Each command group lives in its own module with a ``register(app)`` function. Errors are one
clear line on stderr and a non-zero exit; ``AUTODEV_DEBUG=1`` shows the traceback as well.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer

from autodev.errors import AutodevError

app = typer.Typer(
    name="autodev",
    help="Drive Claude Code workflows from Slack, on AWS or on the embedded local stack.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One module per command group; each registers its commands on ``app``.
_COMMAND_MODULES = (
    "migrate",
    "local",
    "workflow",
    "repo",
    "org",
    "orchestrator",
    "monitor",
    "slack",
    "webhook",
    "audit",
    "demo",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(f"autodev.cli.{_name}").register(app)


def main() -> None:
    # The pool logs every failed connection attempt as a warning, which Python would print
    # on stderr; the command's own one-line error says why the database is unavailable.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    # The terminal is for the command's output: autodev's own log lines (JSON, on stderr)
    # show from WARNING up unless POWERTOOLS_LOG_LEVEL asks for more.
    if not os.environ.get("POWERTOOLS_LOG_LEVEL"):
        from autodev.observability import logger

        logger.setLevel(logging.WARNING)
    try:
        app(standalone_mode=True)
    except AutodevError as error:
        _fail(str(error))
    except KeyboardInterrupt:
        _fail("interrupted")
    except Exception as error:  # the promise is: no traceback, one line
        if os.environ.get("AUTODEV_DEBUG"):
            raise
        _fail(f"unexpected error ({type(error).__name__}): {error} (AUTODEV_DEBUG=1 for details)")


def _fail(message: str) -> None:
    print(f"autodev: {message}", file=sys.stderr)
    raise SystemExit(1)
