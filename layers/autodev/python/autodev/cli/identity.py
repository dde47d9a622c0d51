"""Who the CLI acts as, and whose access settings it applies when it decides.

- On the local stack (an AWS endpoint on this machine: the stack exports ``AWS_ENDPOINT_URL``)
  the CLI acts as the OS user, ``cli:<login>``, whom the stack makes an approver and an admin;
  ``--as`` (or ``AUTODEV_USER``) acts as someone else there, for trying things out.
- In AWS it acts as the caller's IAM principal, the ARN STS GetCallerIdentity answers for the
  credentials in use: a name nobody can claim by setting a variable. ``--as`` is refused. The
  approvers and admins it applies are the deployment's (the environment of the function that
  decides for Slack, ``autodev-<AUTODEV_ENV>-slack-worker`` or ``AUTODEV_ACCESS_FUNCTION``), read
  with lambda:GetFunctionConfiguration; its own ``APPROVERS``, ``APPROVER_GROUP`` and ``ADMINS``
  are replaced by them.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from autodev import access
from autodev.config import get_settings
from autodev.errors import AutodevError, ConfigError, InvalidInput

ACCESS_VARIABLES = ("APPROVERS", "APPROVER_GROUP", "ADMINS")
# The function whose settings decide for Slack (infra/naming.py names it alike).
ACCESS_FUNCTION_FOLDER = "slack_worker"


def on_local_stack() -> bool:
    """Whether AWS calls go to an endpoint on this machine (the local stack)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "").strip()
    if not endpoint:
        return False
    host = urlsplit(endpoint).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def deployed_function_name(env: str, folder: str = ACCESS_FUNCTION_FOLDER) -> str:
    """``autodev-<env>-<folder with dashes>``, as infra/naming.py names a function."""
    return f"autodev-{env}-{folder.replace('_', '-')}"


def caller_arn() -> str:
    """The IAM principal of the credentials in use (STS GetCallerIdentity)."""
    from autodev.aws import client

    try:
        return str(client("sts").get_caller_identity()["Arn"])
    except NoCredentialsError:
        raise AutodevError(
            "no AWS credentials: in AWS the CLI acts as your IAM principal"
            " (configure credentials, or start the local stack with `autodev local up`)"
        ) from None
    except (ClientError, BotoCoreError) as error:
        raise AutodevError(f"could not tell who you are from AWS STS: {error}") from None


def adopt_deployed_access() -> str:
    """Replace this process's APPROVERS, APPROVER_GROUP and ADMINS with the deployment's;
    returns the function they were read from."""
    from autodev.aws import client

    settings = get_settings()
    env = os.environ.get("AUTODEV_ENV", "").strip()
    name = settings.autodev_access_function or (
        deployed_function_name(env) if env and env != "local" else None
    )
    if not name:
        raise ConfigError(
            "in AWS the CLI applies the deployment's approvers and admins: set AUTODEV_ENV to"
            " the stack's environment (dev, prod) or AUTODEV_ACCESS_FUNCTION to the function"
            " that holds them"
        )
    try:
        found = client("lambda").get_function_configuration(FunctionName=name)
    except (ClientError, BotoCoreError) as error:
        raise AutodevError(
            f"could not read the deployment's approvers and admins from function {name}: {error}"
        ) from None
    variables = (found.get("Environment") or {}).get("Variables") or {}
    for variable in ACCESS_VARIABLES:
        os.environ[variable] = str(variables.get(variable, ""))
    get_settings.cache_clear()
    return name


def acting_as(given: str | None, *, deciding: bool = False) -> str:
    """The identity this command acts as (``given`` is ``--as``).

    With ``deciding`` (approve, reject, cancel) in AWS, the deployment's access settings are
    applied first (:func:`adopt_deployed_access`).
    """
    chosen = given or os.environ.get("AUTODEV_USER") or None
    if on_local_stack():
        return chosen or access.os_user()
    if chosen:
        raise InvalidInput(
            "--as and AUTODEV_USER work on the local stack only: in AWS the CLI acts as your"
            " IAM principal"
        )
    identity = caller_arn()
    if deciding:
        adopt_deployed_access()
    return identity
