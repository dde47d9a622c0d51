"""Salesforce orgs registered by name, each with the Secrets Manager secret of its SFDX auth URL.

``autodev org add NAME --auth-url-secret ARN`` keeps the ARN only. The worker reads the secret
for a step that targets the org (:func:`read_auth_url`), logs in into a config directory of the
step's own (:mod:`autodev.salesforce.steps`) and removes it when the step ends; the URL is held
as a ``SecretStr`` and never written to a log, a result or the agent's environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from autodev.config import get_settings
from autodev.db import connection, in_transaction
from autodev.errors import InvalidInput, NotFound
from autodev.repos.credentials import check_secret_arn
from autodev.salesforce.errors import SalesforceToolError

_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,80}$")


class OrgCredentialsUnavailable(SalesforceToolError):
    """The org's auth URL could not be read from Secrets Manager (the message names the ARN)."""


@dataclass(frozen=True)
class Org:
    name: str
    auth_url_secret: str
    added_by: str
    added_at: datetime


def _org(row: dict[str, Any]) -> Org:
    return Org(
        name=str(row["name"]),
        auth_url_secret=str(row["auth_url_secret"]),
        added_by=str(row["added_by"]),
        added_at=row["added_at"],
    )


def add_org(name: str, auth_url_secret: str, *, added_by: str, conn: Any = None) -> Org:
    """Register (or re-point) the org ``name``; bad input changes nothing."""
    name = name.strip()
    if not _NAME.match(name):
        raise InvalidInput(
            f"{name[:60]!r} is not an org name: letters, digits, '_', '.', '@' and '-' "
            "(at most 80), as sf takes for --target-org"
        )
    try:
        arn = check_secret_arn(auth_url_secret, get_settings().autodev_org_secret_prefix)
    except InvalidInput as error:
        raise InvalidInput(
            str(error).replace("AUTODEV_REPO_SECRET_PREFIX", "AUTODEV_ORG_SECRET_PREFIX")
        ) from None
    with in_transaction(conn) as tx:
        row = tx.execute(
            """INSERT INTO salesforce_orgs (name, auth_url_secret, added_by)
               VALUES (%s, %s, %s)
               ON CONFLICT (name) DO UPDATE
                 SET auth_url_secret = EXCLUDED.auth_url_secret,
                     added_by = EXCLUDED.added_by, added_at = now()
               RETURNING name, auth_url_secret, added_by, added_at""",
            (name, arn, added_by),
        ).fetchone()
    assert row is not None
    return _org(row)


def list_orgs() -> list[Org]:
    with connection() as conn:
        rows = conn.execute(
            "SELECT name, auth_url_secret, added_by, added_at FROM salesforce_orgs ORDER BY name"
        ).fetchall()
    return [_org(row) for row in rows]


def get_org(name: str) -> Org:
    """The registered org ``name``; NotFound says how to register it."""
    with connection() as conn:
        row = conn.execute(
            "SELECT name, auth_url_secret, added_by, added_at FROM salesforce_orgs WHERE name = %s",
            (name,),
        ).fetchone()
    if row is None:
        raise NotFound(
            f"no Salesforce org {name!r} is registered "
            f"(autodev org add {name} --auth-url-secret ARN)"
        )
    return _org(row)


def read_auth_url(org: Org) -> SecretStr:
    """The org's SFDX auth URL from Secrets Manager (never cached, never logged)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from autodev.aws import client

    try:
        answer = client("secretsmanager").get_secret_value(SecretId=org.auth_url_secret)
    except (ClientError, BotoCoreError) as error:
        raise OrgCredentialsUnavailable(
            f"org {org.name}: its auth URL could not be read from Secrets Manager "
            f"({org.auth_url_secret}): {error}"
        ) from None
    value = answer.get("SecretString") or ""
    if not value.strip():
        raise OrgCredentialsUnavailable(
            f"org {org.name}: the secret {org.auth_url_secret} holds no auth URL"
        )
    return SecretStr(value.strip())
