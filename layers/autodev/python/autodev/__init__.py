"""autodev: drive Claude Code from Slack on AWS Step Functions, Fargate and Postgres."""

import os

__version__ = "0.1.0"

# pydantic looks for plugins the first time a process builds a model: it reads the entry points
# of every installed distribution (10-15 ms with this project's packages, measured), in every
# worker, Lambda cold start and CLI command. autodev uses none. To use one, set
# PYDANTIC_DISABLE_PLUGINS to "" (or to the names of the plugins to leave out).
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
