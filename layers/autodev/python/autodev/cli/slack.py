"""`autodev slack "/workflow start bug-fix ..."`: a signed request through the real handler.

Signs the command as Slack would (SLACK_SIGNING_SECRET, else the local stack's generated
secret in AUTODEV_STATE_DIR), sends it to the background local stack's Slack endpoint (when
none is running, to a local stack started in this process for the command), prints the
immediate answer, then the Slack messages that followed (recorded by the local Slack sink).
The local stand-ins are imported inside the command, so this module imports without them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from autodev.cli.output import console, print_table
from autodev.errors import InvalidInput


def register(app: typer.Typer) -> None:
    app.command(name="slack")(slack)


def _summary(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def slack(
    command_line: Annotated[str, typer.Argument(help='e.g. "/workflow start bug-fix ..."')],
    user: Annotated[str, typer.Option(help="The Slack user id to send as")] = "ULOCALDEV",
    channel: Annotated[str, typer.Option(help="The Slack channel id")] = "CLOCALDEV",
    wait: Annotated[float, typer.Option(help="Seconds to wait for the follow-up")] = 60.0,
) -> None:
    """Send a signed slash command through the real Slack handler and show what followed."""
    from autodev.config import get_settings

    if not command_line.strip().startswith("/"):
        raise InvalidInput('give a slash command, e.g. autodev slack "/workflow list"')
    with _gateway(get_settings().autodev_state_dir) as gateway:
        _send(command_line, gateway, user, channel, wait)


@contextlib.contextmanager
def _gateway(state_dir: Path) -> Iterator[str]:
    """The background stack's Slack endpoint, else that of a stack run here meanwhile."""
    from autodev.local.slack import gateway

    announced = gateway.announced_url(state_dir)
    if announced is not None:
        yield announced
        return
    from autodev.config import get_settings
    from autodev.db.migrate import Migrator
    from autodev.local import LocalStack, default_services

    console.print("no local stack is running (`autodev local up`): starting one for this command")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
    Migrator(get_settings()).up()
    with LocalStack(services=default_services()):
        started = gateway.announced_url(state_dir)
        if started is None:
            raise InvalidInput("the local stack's Slack gateway did not start")
        yield started


def _send(command_line: str, gateway: str, user: str, channel: str, wait: float) -> None:
    from autodev.config import get_settings
    from autodev.local.slack import sink
    from autodev.local.slack.secret import ensure_local_signing_secret
    from autodev.local.slack.sender import SlackSender
    from autodev.local.slack.services import real_token_configured
    from autodev.slack import commands

    secret = ensure_local_signing_secret(get_settings().autodev_state_dir)
    recorder = sink.current()
    sender = SlackSender(secret, gateway, user_id=user, channel_id=channel)
    name, _, text = command_line.strip().partition(" ")
    try:
        expects_follow_up = commands.parse(name, text).action is not commands.Action.HELP
    except commands.UsageError:
        expects_follow_up = False
    since = recorder.last_seq()
    answer, key = sender.command(command_line)
    console.print(f"[bold]{name}[/bold] → {gateway}: HTTP {answer.status}")
    if answer.text:
        console.print(answer.text, markup=False)
    if answer.status != 200 or not expects_follow_up:
        if answer.status != 200:
            raise SystemExit(1)
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if any(call.key == key for call in recorder.calls("response_url", since=since)):
            break
        time.sleep(0.2)  # polling the sink for the worker's answer, with a deadline
    else:
        console.print(f"[yellow]no answer through response_url within {wait:.0f}s[/yellow]")
    calls = recorder.calls(since=since)
    if real_token_configured():
        console.print("(SLACK_BOT_TOKEN is set: messages went to the real workspace)")
    print_table(
        "Slack messages that followed",
        ["#", "method", "channel", "thread", "text"],
        [
            (
                call.seq,
                call.method,
                "response_url" if call.key else call.channel,
                call.thread_ts or "",
                escape(_summary(call.block_text() or call.text)),
            )
            for call in calls
        ],
    )
