"""`autodev webhook test URL [--secret S]`: send a signed ping, report what came back.

Like the "send test event" button of webhook providers: the same guard, signature, timeout
and no-redirect policy as real deliveries, so a refused target is refused here too, with
the reason.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer

from autodev.cli.output import console
from autodev.config import settings_or_exit
from autodev.errors import AutodevError
from autodev.webhooks import WebhookFailed, WebhookRefused, new_secret, send

webhook_app = typer.Typer(help="Outgoing webhooks.", no_args_is_help=True)


class WebhookTestFailed(AutodevError):
    """The receiver answered, but not with a 2xx."""


@webhook_app.command("test")
def ping_command(
    url: Annotated[str, typer.Argument(help="The receiver's URL (https).")],
    secret: Annotated[
        str | None,
        typer.Option(help="The endpoint's secret (whsec_...); a fresh one is used if omitted."),
    ] = None,
) -> None:
    """Send a signed ping to URL and show the receiver's answer (or why it was refused)."""
    settings_or_exit()
    msg_id = f"msg_{uuid.uuid4().hex}"
    payload = {
        "type": "ping",
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {"message": "autodev webhook test"},
    }
    used_secret = secret or new_secret()
    try:
        answer = send(url, payload, secret=used_secret, msg_id=msg_id)
    except WebhookRefused as error:
        raise AutodevError(str(error)) from None
    except WebhookFailed as error:
        raise AutodevError(f"no answer: {error}") from None
    body = " ".join(answer.body.split())[:300]
    console.print(
        f"{url} answered {answer.status} in {answer.elapsed_ms:.0f} ms "
        f"(connected to {answer.address}; webhook-id {msg_id})"
    )
    if body:
        console.print(f"body: {body}")
    if secret is None:
        console.print("signed with a one-off secret (pass --secret to use the endpoint's)")
    if not answer.ok:
        raise WebhookTestFailed(f"the receiver answered {answer.status}, not 2xx")


def register(app: typer.Typer) -> None:
    app.add_typer(webhook_app, name="webhook")
