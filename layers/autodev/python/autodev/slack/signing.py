"""Where the Slack signing secret and bot token come from, cached per process.

In order: the ``SLACK_SIGNING_SECRET`` environment variable; in AWS, the Secrets Manager secret
named by ``SLACK_SIGNING_SECRET_ARN`` (read with Powertools Parameters, cached five minutes).
With neither every request is refused: there is no default secret (the local stack sets the
variable to a secret it generated). The bot token follows the same rule with
``SLACK_BOT_TOKEN`` / ``SLACK_BOT_TOKEN_ARN``; without either, Slack calls fail with a
ConfigError (see ``client``). A secret stored as JSON may hold both:
``{"signing_secret": "...", "bot_token": "..."}``.
"""

from __future__ import annotations

import json
import os

# Names of environment variables, not secrets themselves.
SIGNING_SECRET_ENV = "SLACK_SIGNING_SECRET"  # noqa: S105
SIGNING_SECRET_ARN_ENV = "SLACK_SIGNING_SECRET_ARN"  # noqa: S105
BOT_TOKEN_ENV = "SLACK_BOT_TOKEN"  # noqa: S105
BOT_TOKEN_ARN_ENV = "SLACK_BOT_TOKEN_ARN"  # noqa: S105
_CACHE_SECONDS = 300


def _from_secrets_manager(arn: str, key: str) -> str:
    # Imported here: Parameters pulls in boto3, which the request path avoids until needed.
    from aws_lambda_powertools.utilities import parameters

    value = str(parameters.get_secret(arn, max_age=_CACHE_SECONDS))
    if value.lstrip().startswith("{"):
        try:
            document = json.loads(value)
        except ValueError:
            return value
        if isinstance(document, dict) and key in document:
            return str(document[key])
    return value


def _configured(env_name: str, arn_env_name: str, json_key: str) -> str | None:
    """The value from the environment, else from the secret its ``..._ARN`` names, else None."""
    value = os.environ.get(env_name)
    if value:
        return value
    arn = os.environ.get(arn_env_name)
    return _from_secrets_manager(arn, json_key) if arn else None


def signing_secret() -> str | None:
    """The signing secret in force, or None when none is configured."""
    return _configured(SIGNING_SECRET_ENV, SIGNING_SECRET_ARN_ENV, "signing_secret")


def bot_token() -> str | None:
    return _configured(BOT_TOKEN_ENV, BOT_TOKEN_ARN_ENV, "bot_token")
