"""`autodev local up|down|status`: the local stack in the background.

``up`` migrates the database (the embedded Postgres under AUTODEV_STATE_DIR, or DATABASE_URL),
then starts ``python -m autodev.local.server`` (moto on loopback with the state machines and
functions, plus every local service) and waits until it writes ``local.json``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from autodev.cli.output import console, print_table
from autodev.config import settings_or_exit
from autodev.errors import AutodevError

local_app = typer.Typer(
    help="Run the whole platform on this machine: Postgres, AWS on loopback, services.",
    no_args_is_help=True,
)


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"


@local_app.command("up")
def up(
    port: Annotated[int, typer.Option(help="Loopback port for the AWS endpoint (0: any).")] = 0,
    wait: Annotated[float, typer.Option(help="Seconds to wait for it to come up.")] = 90.0,
) -> None:
    """Start the local stack in the background (migrating the database first)."""
    from autodev.db import embedded
    from autodev.db.migrate import Migrator
    from autodev.local.state import remove_state, running_state, state_path, write_state

    settings = settings_or_exit()
    running = running_state()
    if running is not None:
        console.print(f"the local stack is already up at {running['endpoint_url']}")
        return
    state_dir = settings.autodev_state_dir.resolve()
    postgres = "DATABASE_URL" if settings.database_url is not None else "embedded"
    if postgres == "embedded":
        embedded.embedded_url(state_dir)
    for migration in Migrator(settings).up():
        console.print(f"applied {migration.label}")
    log_path = state_dir / "logs" / "local-stack.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    remove_state()
    env = {**os.environ, "AUTODEV_STATE_DIR": str(state_dir)}
    # The stack sets its own endpoint; one inherited from this shell would point elsewhere.
    env.pop("AWS_ENDPOINT_URL", None)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "autodev.local.server",
                "--port",
                str(port),
                "--postgres",
                postgres,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # outlives this command, as a background service
        )
    deadline = time.monotonic() + wait
    while True:
        state = running_state()
        if state is not None and state.get("pid") == process.pid:
            break
        if process.poll() is not None:
            raise AutodevError(f"the local stack did not start: {_log_tail(log_path)}")
        if time.monotonic() > deadline:
            process.terminate()
            raise AutodevError(
                f"the local stack did not come up within {wait:.0f}s; see {log_path}"
            )
        time.sleep(0.2)
    state["log"] = str(log_path)
    write_state(state)
    _show(state, state_path())
    page = dict(state.get("env") or {}).get(SLACK_PAGE_ENV)
    if page:
        console.print(
            f"Local Slack: open {page} to see the messages and use the buttons;"
            " `autodev local down` stops everything."
        )


SLACK_PAGE_ENV = "AUTODEV_SLACK_SINK_URL"


def _show(state: dict[str, Any], path: Path) -> None:
    page = dict(state.get("env") or {}).get(SLACK_PAGE_ENV)
    print_table(
        "local stack",
        ("part", "where"),
        [
            ("Slack page (open in a browser)", str(page or "not running")),
            ("AWS endpoint (moto)", f"{state['endpoint_url']} (pid {state['pid']})"),
            ("Postgres", str(state.get("postgres", "?"))),
            ("state machines", ", ".join(sorted(state.get("state_machines", {})))),
            ("functions", ", ".join(sorted(state.get("functions", {})))),
            ("services", ", ".join(state.get("services", [])) or "none"),
            ("log", str(state.get("log", ""))),
            ("state file", str(path)),
        ],
    )
    for note in state.get("notes") or []:
        console.print(str(note), markup=False, soft_wrap=True)


@local_app.command("down")
def down() -> None:
    """Stop the local stack and, unless another command still uses it, the embedded Postgres."""
    from autodev.db import embedded
    from autodev.local.state import pid_alive, read_state, remove_state

    settings = settings_or_exit()
    postgres_was_up = settings.database_url is None and embedded.is_running(
        settings.autodev_state_dir
    )
    state = read_state()
    stopped = False
    if state is not None and pid_alive(int(state.get("pid", 0))):
        pid = int(state["pid"])
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        stopped = True
    remove_state()
    console.print("local stack stopped" if stopped else "the local stack was not running")
    if postgres_was_up:
        _stop_embedded(settings.autodev_state_dir)


def _stop_embedded(state_dir: Path) -> None:
    """The stack stops the embedded Postgres as it exits (it held it last); one left over
    (from a process that was killed) is stopped here, unless a live command still uses it."""
    from autodev.db import embedded

    deadline = time.monotonic() + 15
    while embedded.is_running(state_dir) and time.monotonic() < deadline:
        if [pid for pid in embedded.live_handles(state_dir) if pid != os.getpid()]:
            time.sleep(0.2)  # the stack's last moments, or another command using it
            continue
        embedded.stop(state_dir)
    if embedded.is_running(state_dir):
        users = ", ".join(str(pid) for pid in embedded.live_handles(state_dir)) or "?"
        console.print(f"embedded Postgres left running: in use by pid {users}")
    else:
        console.print("embedded Postgres stopped")


@local_app.command("status")
def status() -> None:
    """Show whether the local stack and its database are up."""
    from autodev.db import embedded
    from autodev.local.state import read_state, running_state, state_path

    settings = settings_or_exit()
    state = running_state()
    if state is None:
        stale = read_state() is not None
        console.print(
            "the local stack is down" + (" (a stale state file was left)" if stale else "")
        )
    else:
        _show(state, state_path())
        _check_endpoint(state)
    if settings.database_url is None:
        up_or_down = "running" if embedded.is_running(settings.autodev_state_dir) else "stopped"
        console.print(f"embedded Postgres: {up_or_down}")


def _check_endpoint(state: dict[str, Any]) -> None:
    from autodev.local import activate
    from autodev.workflows import sfn

    activate()
    try:
        machines = sfn.sfn().list_state_machines()["stateMachines"]
    except Exception as error:
        raise AutodevError(f"the AWS endpoint does not answer: {error}") from None
    console.print(f"AWS endpoint answers: {len(machines)} state machines")


def register(app: typer.Typer) -> None:
    app.add_typer(local_app, name="local")
