"""A repository's credentials, read from Secrets Manager by the ARN the registry keeps.

The secret holds the token alone, or a JSON object ``{"token": "...", "username": "..."}``.
It is read (with Powertools Parameters, cached for a minute, through autodev's shared
Secrets Manager client) by the processes that talk to
the repository's host: the worker (clone and push, through its git credential helper), the
process that starts a workflow (the ref check) and the one that finishes it (the pull
request). It is never written to a file, a log line, a task payload or the agent's
environment.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from autodev.errors import InvalidInput
from autodev.repos.models import Provider, RepositoryError

# arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX
_SECRET_ARN = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:(?P<name>[A-Za-z0-9/_+=.@-]+)$"
)
# The user name git sends with a token, per host (the token is what authenticates).
_USERNAMES: dict[str, str] = {"github": "x-access-token", "gitlab": "oauth2", "local": "autodev"}
_CACHE_SECONDS = 60


@dataclass(frozen=True)
class GitCredential:
    username: str
    token: SecretStr

    def __repr__(self) -> str:  # never the token, even in a traceback's locals
        return f"GitCredential(username={self.username!r}, token=***)"


def check_secret_arn(arn: str, prefix: str | None) -> str:
    """The ARN, if it is a Secrets Manager secret ARN under ``prefix`` (when one is set)."""
    match = _SECRET_ARN.match(arn.strip())
    if match is None:
        raise InvalidInput(
            f"{arn!r} is not a Secrets Manager secret ARN "
            "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)"
        )
    if prefix and not match.group("name").startswith(prefix):
        raise InvalidInput(
            f"the secret's name must start with {prefix!r} (AUTODEV_REPO_SECRET_PREFIX): the "
            "workers may read only those secrets"
        )
    return arn.strip()


@functools.cache
def _secrets(client: Any) -> Any:
    """A Powertools secrets provider (with its cache) per Secrets Manager client: autodev's
    shared client, which follows the endpoint (the local stack's, or AWS's)."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client)


def forget_cached() -> None:
    """Drop the cached secret values (after a secret was changed, in tests)."""
    _secrets.cache_clear()


def read_credential(arn: str, provider: Provider, repository: str) -> GitCredential:
    """The token (and user name) in the secret; RepositoryError names the repository."""
    from aws_lambda_powertools.utilities import parameters
    from botocore.exceptions import BotoCoreError, ClientError

    from autodev.aws import client

    try:
        value = _secrets(client("secretsmanager")).get(arn, max_age=_CACHE_SECONDS)
    except (parameters.exceptions.GetParameterError, ClientError, BotoCoreError) as error:
        # The SDK's message names the ARN and the failure, never a secret value.
        raise RepositoryError(
            f"repository {repository}: its credentials could not be read from Secrets Manager "
            f"({arn}): {error}",
            retryable=False,
        ) from None
    text = value.decode() if isinstance(value, bytes) else str(value)
    username = _USERNAMES.get(provider, "autodev")
    token = text.strip()
    if token.startswith("{"):
        try:
            parsed = json.loads(token)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("token"), str):
            raise RepositoryError(
                f"repository {repository}: the secret {arn} is JSON without a string 'token'",
                retryable=False,
            )
        token = parsed["token"].strip()
        username = str(parsed.get("username") or username)
    if not token:
        raise RepositoryError(
            f"repository {repository}: the secret {arn} is empty", retryable=False
        )
    return GitCredential(username, SecretStr(token))
