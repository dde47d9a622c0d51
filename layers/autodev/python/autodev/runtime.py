"""Where autodev runs, and the settings it cannot run without there.

In AWS (a Lambda runtime sets ``AWS_LAMBDA_FUNCTION_NAME``; an ECS task gets
``ECS_CONTAINER_METADATA_URI_V4``) nothing falls back to a local stand-in: a function or the
worker declares what it needs with :func:`require` when it is loaded, and a missing setting
stops the cold start with one log line and :class:`MissingSettings` naming it, before anything
else happens. Elsewhere :func:`require` checks nothing: the local stack sets what it needs
itself, and a script without it gets a clear error where the setting is used.

This module is also the one place that decides whether the process runs in AWS
(:func:`in_aws`); ``autodev.observability`` asks it where metrics go.

Each handler keeps what it declared (``NEEDS = runtime.require(...)``) so that a test can
check that infra/ gives every function what its handler needs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from autodev.errors import ConfigError

LAMBDA_MARKER = "AWS_LAMBDA_FUNCTION_NAME"
ECS_MARKER = "ECS_CONTAINER_METADATA_URI_V4"


class MissingSettings(ConfigError):
    """Settings that autodev needs in AWS are not set; the process must not start."""


@dataclass(frozen=True)
class Need:
    """A requirement met by any one of ``options``, each a group of settings all set."""

    options: tuple[tuple[str, ...], ...]

    @classmethod
    def any_of(cls, *names: str) -> Need:
        return cls(tuple((name,) for name in names))

    @classmethod
    def all_of(cls, *names: str) -> Need:
        return cls((tuple(names),))

    @property
    def names(self) -> tuple[str, ...]:
        """Every setting this need mentions."""
        return tuple(name for option in self.options for name in option)

    def met(self, env: Mapping[str, str]) -> bool:
        return any(all(env.get(name) for name in option) for option in self.options)

    def unmet(self, env: Mapping[str, str]) -> str:
        """What is missing, in words: the unset names of a single group, else the choices."""
        if len(self.options) == 1:
            return ", ".join(name for name in self.options[0] if not env.get(name))
        return str(self)

    def __str__(self) -> str:
        return " or ".join("+".join(option) for option in self.options)


DATABASE = Need((("DATABASE_URL",), ("DATABASE_SECRET_ARN", "DATABASE_HOST", "DATABASE_NAME")))
SLACK_BOT_TOKEN = Need.any_of("SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN_ARN")
SLACK_SIGNING_SECRET = Need.any_of("SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET_ARN")
SLACK_WORKER_FUNCTION = Need.any_of("SLACK_WORKER_FUNCTION")
EVENT_BUS = Need.any_of("AUTODEV_EVENT_BUS")
SCALER_FUNCTION = Need.any_of("AUTODEV_SCALER_FUNCTION")
DELIVERY_FUNCTION = Need.any_of("AUTODEV_DELIVERY_FUNCTION")
ECS_WORKERS = Need.all_of(
    "AUTODEV_ECS_CLUSTER", "AUTODEV_ECS_TASK_DEFINITION", "AUTODEV_ECS_SUBNETS"
)
MODEL_PROVIDER = Need.any_of("AUTODEV_MODEL_PROVIDER")
ANTHROPIC_API_KEY = Need.any_of("ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY_ARN")


def in_aws(env: Mapping[str, str] | None = None) -> bool:
    """Whether this process is a Lambda function or an ECS task."""
    env = os.environ if env is None else env
    return bool(env.get(LAMBDA_MARKER) or env.get(ECS_MARKER))


def missing(needs: tuple[Need, ...], env: Mapping[str, str] | None = None) -> list[Need]:
    env = os.environ if env is None else env
    return [need for need in needs if not need.met(env)]


def require(*needs: Need, env: Mapping[str, str] | None = None) -> tuple[Need, ...]:
    """In AWS, stop here (one log line, then MissingSettings) unless every need is met.

    Returns the needs, for the caller to keep. Outside AWS it checks nothing.
    """
    env = os.environ if env is None else env
    if in_aws(env):
        unmet = missing(needs, env)
        if unmet:
            message = "missing required settings: " + "; ".join(need.unmet(env) for need in unmet)
            # Imported here: autodev.observability asks this module whether it runs in AWS.
            from autodev.observability import child_logger

            child_logger(__name__).error(message)
            raise MissingSettings(message)
    return needs
