"""Where the Slack signing secret and bot token come from, cached per process.

In order: the ``SLACK_SIGNING_SECRET`` environment variable; in AWS, the Secrets Manager secret
named by ``SLACK_SIGNING_SECRET_ARN`` (read with Powertools Parameters, cached five minutes);
on the local stack, the secret the stack generated in ``AUTODEV_STATE_DIR``. With none of them
every request is refused: there is no default secret. The bot token follows the same rule
with ``SLACK_BOT_TOKEN`` / ``SLACK_BOT_TOKEN_ARN`` (without either, the local sink is used).
A secret stored as JSON may hold both: ``{"signing_secret": "...", "bot_token": "..."}``.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

# Names of environment variables and of a file, not secrets themselves.
SIGNING_SECRET_ENV = "SLACK_SIGNING_SECRET"  # noqa: S105
SIGNING_SECRET_ARN_ENV = "SLACK_SIGNING_SECRET_ARN"  # noqa: S105
BOT_TOKEN_ENV = "SLACK_BOT_TOKEN"  # noqa: S105
BOT_TOKEN_ARN_ENV = "SLACK_BOT_TOKEN_ARN"  # noqa: S105
LOCAL_SECRET_FILE = "slack-signing-secret"  # noqa: S105
_CACHE_SECONDS = 300


def _state_dir() -> Path:
    return Path(os.environ.get("AUTODEV_STATE_DIR") or ".autodev")


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
    configured = _configured(SIGNING_SECRET_ENV, SIGNING_SECRET_ARN_ENV, "signing_secret")
    if configured:
        return configured
    path = _state_dir() / LOCAL_SECRET_FILE
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def bot_token() -> str | None:
    return _configured(BOT_TOKEN_ENV, BOT_TOKEN_ARN_ENV, "bot_token")


def ensure_local_signing_secret(state_dir: Path | None = None) -> str:
    """The local stack's signing secret: SLACK_SIGNING_SECRET, else one kept in the state dir.

    Generated once (random, file mode 0600) so ``autodev slack`` and the local handlers agree
    without anyone configuring a secret.
    """
    configured = os.environ.get(SIGNING_SECRET_ENV)
    if configured:
        return configured
    directory = state_dir or _state_dir()
    path = directory / LOCAL_SECRET_FILE
    try:
        existing = path.read_text().strip()
    except OSError:
        existing = ""
    if existing:
        return existing
    directory.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value)
    return value
