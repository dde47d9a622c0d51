"""Registering a signed webhook for a workflow's result (the CLI's ``--webhook``, and
``POST /results/{id}/webhooks``).

The webhook is a workflow callback (``autodev.callbacks``): when the workflow ends, its result
is POSTed to the URL, signed per Standard Webhooks with the callback's secret. The secret is
``whsec_`` followed by 24 to 64 random bytes in base64; one is generated when none is given,
and it is shown once, to whoever registered it.
"""

from __future__ import annotations

from dataclasses import dataclass

from autodev import callbacks
from autodev.db import connection
from autodev.errors import AutodevError
from autodev.webhooks.signing import check_secret, new_secret
from autodev.workflows.ids import resolve_workflow_id
from autodev.workflows.models import FINAL_STATUSES

SECRET_FORMAT = "whsec_ followed by 24 to 64 random bytes in base64 (Standard Webhooks)"  # noqa: S105


class AlreadyFinished(AutodevError):
    """The workflow has ended: its result is delivered already; nothing was registered."""


@dataclass(frozen=True)
class WebhookRegistration:
    workflow_id: str
    callback_id: str
    url: str
    secret: str
    generated: bool  # True: autodev made the secret; it is shown this once

    def to_json(self) -> dict[str, object]:
        """What the API answers: the secret only when autodev generated it."""
        answer: dict[str, object] = {
            "workflow_id": self.workflow_id,
            "callback_id": self.callback_id,
            "url": self.url,
            "secret_format": SECRET_FORMAT,
        }
        if self.generated:
            answer["secret"] = self.secret
        return answer


def webhook_spec(url: str, secret: str | None) -> tuple[dict[str, str], str, bool]:
    """A webhook callback's spec with its secret (the given one, checked, or a new one)."""
    generated = secret is None
    secret = new_secret() if secret is None else check_secret(secret)
    return {"type": "webhook", "url": url, "secret": secret}, secret, generated


def add_webhook(workflow: str, url: str, secret: str | None = None) -> WebhookRegistration:
    """Register a signed webhook for a running workflow (its id, execution name or short id).

    InvalidInput for a refused URL or secret, NotFound for no such workflow, AlreadyFinished
    once it has ended; in each case nothing is registered."""
    workflow_id = resolve_workflow_id(workflow)
    spec, secret, generated = webhook_spec(url, secret)
    with connection() as conn:
        # Locked: a workflow finishing now delivers after this commits, so it sees the hook.
        row = conn.execute(
            "SELECT status FROM workflows WHERE id = %s FOR UPDATE", (workflow_id,)
        ).fetchone()
        if row is not None and row["status"] in FINAL_STATUSES:
            raise AlreadyFinished(
                f"workflow {workflow_id} has already finished ({row['status']}): its result is"
                f" at GET /results/{workflow_id}; nothing was registered"
            )
        callback_id = callbacks.register_callback(
            workflow_id, spec, target_kind="workflow", conn=conn
        )
    return WebhookRegistration(workflow_id, callback_id, spec["url"].strip(), secret, generated)
