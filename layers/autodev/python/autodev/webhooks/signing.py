"""Standard Webhooks signatures, made with the ``standardwebhooks`` package.

Headers: ``webhook-id`` (the delivery's stable id: the same on every retry, so receivers can
deduplicate), ``webhook-timestamp`` (epoch seconds of this attempt) and
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``. Secrets have the
scheme's form ``whsec_<base64 key>``.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from autodev.errors import InvalidInput

SECRET_PREFIX = "whsec_"  # noqa: S105 - the scheme's prefix, not a secret


def new_secret() -> str:
    """A fresh endpoint secret (24 random bytes, as the scheme recommends at least)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def check_secret(secret: str) -> str:
    """The secret if it is usable; InvalidInput (without echoing it) otherwise."""
    # The scheme asks for keys of 24 to 64 bytes; a shorter one is too weak to sign with.
    message = "a webhook secret must be whsec_ followed by 24 to 64 bytes in base64"
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise InvalidInput(message)
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except ValueError:
        raise InvalidInput(message) from None
    if not 24 <= len(key) <= 64:
        raise InvalidInput(message)
    return secret


def sign_headers(
    secret: str, msg_id: str, body: str, timestamp: datetime | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``."""
    when = timestamp or datetime.now(UTC)
    signature = Webhook(check_secret(secret)).sign(msg_id, when, body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
    }
