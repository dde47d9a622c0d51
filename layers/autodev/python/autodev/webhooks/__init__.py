"""Outgoing webhooks: Standard Webhooks signatures, the SSRF guard, and the sender."""

from autodev.webhooks.guard import Target, WebhookRefused, check_target, refusal_reason
from autodev.webhooks.sender import WebhookAnswer, WebhookFailed, send
from autodev.webhooks.signing import new_secret, sign_headers

__all__ = [
    "Target",
    "WebhookAnswer",
    "WebhookFailed",
    "WebhookRefused",
    "check_target",
    "new_secret",
    "refusal_reason",
    "send",
    "sign_headers",
]
