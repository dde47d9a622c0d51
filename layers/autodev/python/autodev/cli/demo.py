"""`autodev demo`: the code-review and bug-fix workflows, end to end, on the local stack.

Everything is real except the model when no key is set: the embedded Postgres, moto's Step
Functions interpreter running the state machines, the Lambda handlers, worker processes
started by the scaler, and the Claude Code CLI editing a clone of a bare repository made from
``examples/``: the bug fix is pushed to its branch there, and its pull request goes to the
local stand-in for the host's API, which records it (the demo ends with both). Without
``ANTHROPIC_API_KEY`` the CLI talks to autodev's scripted model server, and the demo says so
at the start, in every step's answer and at the end.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.syntax import Syntax

from autodev.cli.output import console, escape
from autodev.errors import AutodevError

if TYPE_CHECKING:
    from autodev.orchestrator.queue import TaskStatus

# The repository the demo works on: a bare repository made from examples/ for each run.
DEMO_REPOSITORY = "examples"
DEMO_RUNS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "code-review",
        {
            "target": "force-app",
            "focus": "security, performance and quality",
            "repo": DEMO_REPOSITORY,
        },
    ),
    (
        "bug-fix",
        {
            "description": "AccountTrigger throws a NullPointerException on bulk insert",
            "component": "AccountTrigger",
            "repo": DEMO_REPOSITORY,
        },
    ),
)


class DemoFailed(AutodevError):
    """A demo workflow did not succeed."""


@dataclass
class _Run:
    template: str
    workflow_id: str
    execution_name: str
    seen: dict[str, str] = field(default_factory=dict)
    status: Any = None


def _tasks(workflow_id: str) -> list[TaskStatus]:
    from autodev.orchestrator.queue import workflow_tasks

    return workflow_tasks(workflow_id)


def _first_line(text: str, limit: int = 110) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _show_progress(run: _Run) -> None:
    """Print each step of the run once when it starts and once when it ends."""
    for task in _tasks(run.workflow_id):
        key, state = task.id, task.status
        if run.seen.get(key) == state:
            continue
        run.seen[key] = state
        label = f"[bold]{run.template}[/] · {escape(str(task.step_name))}"
        if state == "running":
            worker = (task.lease_owner or "").split("-")
            pid = f" (worker pid {worker[-2]})" if len(worker) >= 2 else ""
            console.print(f"  [yellow]▸[/] {label}: Claude Code running{pid}")
        elif state == "succeeded":
            result = task.result or {}
            console.print(
                f"  [green]✓[/] {label}: {task.turns} turns, ${float(task.cost_usd):.4f}, "
                f"{len(result.get('files_changed') or [])} file(s) changed"
            )
            console.print(f"      {_first_line(str(result.get('summary') or ''))}", markup=False)
        elif state == "queued" and task.attempts:
            console.print(f"  [red]↻[/] {label}: retrying after: {escape(str(task.last_error))}")
        elif state in ("failed", "dead", "cancelled"):
            console.print(f"  [red]✗[/] {label}: {state}: {escape(str(task.last_error))}")


def _show_result(run: _Run) -> None:
    from autodev.callbacks import Artifact, get_result

    status = run.status
    colour = "green" if status.status == "succeeded" else "red"
    console.rule(f"[bold]{run.template}[/] · {run.execution_name} · [{colour}]{status.status}[/]")
    if status.status != "succeeded":
        console.print(f"error: {status.error}\ncause: {status.cause}", markup=False)
        return
    tasks = _tasks(run.workflow_id)
    final = next((t for t in reversed(tasks) if t.status == "succeeded"), None)
    if final is not None:
        summary = str((final.result or {}).get("summary", ""))
        # The answer's JSON block is for the workflow; a person reads the text.
        console.print(re.sub(r"\s*```json.*?```", "", summary, flags=re.DOTALL), markup=False)
    cost = sum(float(t.cost_usd) for t in tasks)
    tools = sum(t.model_provider == "tool" for t in tasks)
    console.print(
        f"\n{len(tasks) - tools} agent steps and {tools} tool step(s) (no model), "
        f"total cost ${cost:.4f} (as Claude Code reported it)"
    )
    for task in tasks:
        diff = ((task.result or {}).get("artifacts") or {}).get("diff")
        if task.status != "succeeded" or not diff:
            continue
        found = get_result(diff["id"])
        body = (found.body if isinstance(found, Artifact) else None) or ""
        console.print(
            f"\nThe edit made by step '{task.step_name}' "
            f"(workspace: {(task.result or {}).get('workspace')}):"
        )
        console.print(
            Syntax(body, "diff", theme="ansi_dark", background_color="default", word_wrap=True)
        )
    _show_changes(run)


def _show_changes(run: _Run) -> None:
    """The workflow's branch in the repository, and its pull request as the host recorded it."""
    from autodev import repos
    from autodev.config import get_settings
    from autodev.local import git_host

    found = repos.links(run.workflow_id)
    if not found.get("branch"):
        return
    console.print(
        f"\nbranch: [bold]{escape(found['branch'])}[/] pushed to repository "
        f"{escape(str(found.get('repository')))}"
    )
    directory = git_host.host_directory(get_settings().autodev_state_dir.resolve())
    for pull in git_host.recorded_pull_requests(directory):
        if pull["head"] == found["branch"]:
            draft = " (draft)" if pull["draft"] else ""
            console.print(
                f"pull request #{pull['number']}{draft} recorded by the local stand-in host: "
                f"{pull['head']} -> {pull['base']}: {pull['title']}\n  {pull['url']}",
                markup=False,
                soft_wrap=True,
            )
    if found.get("pull_request_error"):
        console.print(f"no pull request: {found['pull_request_error']}", markup=False)


def run_demo(
    runs: Sequence[tuple[str, dict[str, Any]]] = DEMO_RUNS, timeout_seconds: float = 600
) -> list[Any]:
    """Run the workflows on an in-process local stack; returns their final statuses."""
    from autodev.config import get_settings
    from autodev.db.migrate import Migrator
    from autodev.local import LocalStack, default_services
    from autodev.models.providers import describe
    from autodev.workflows import StartRequest, get_workflow_status, start_workflow

    # moto's own request log would drown the demo's output (autodev's is at WARNING in the
    # CLI; the workers' log files keep their INFO lines).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    settings = get_settings()
    console.rule("[bold]autodev demo")
    console.print(describe(settings), markup=False)
    console.print(
        "local stack: embedded Postgres, moto's Step Functions interpreter, Lambda handlers "
        "in-process, workers as local processes, the real Claude Code CLI"
    )
    Migrator(settings).up()
    finished: list[_Run] = []
    with LocalStack(services=default_services()) as stack:
        from autodev.local.slack.services import SINK_URL_ENV

        for note in stack.notes:
            console.print(note, markup=False, soft_wrap=True)
        console.print(
            f"local Slack page: {os.environ.get(SINK_URL_ENV)} (open it to watch the workflows'"
            " messages while the demo runs; `autodev local up` keeps one running)"
        )
        _register_demo_repository(settings.autodev_state_dir.resolve())
        active = [
            _Run(template, started.id, started.execution_name)
            for template, payload in runs
            for started in [start_workflow(StartRequest(template, payload, "autodev-demo"))]
        ]
        for run in active:
            console.print(f"started [bold]{run.template}[/] as {run.execution_name}")
        deadline = time.monotonic() + timeout_seconds
        while active:
            if time.monotonic() > deadline:
                raise DemoFailed(f"the demo workflows did not finish in {timeout_seconds:g} s")
            for run in list(active):
                _show_progress(run)
                status = get_workflow_status(run.workflow_id)
                if status.finished:
                    _show_progress(run)
                    run.status = status
                    active.remove(run)
                    finished.append(run)
            time.sleep(0.3)
    for run in sorted(finished, key=lambda r: [t for t, _ in runs].index(r.template)):
        _show_result(run)
    console.rule()
    console.print(describe(settings), markup=False)
    return [run.status for run in finished]


def _register_demo_repository(state_dir: Path) -> None:
    """A bare repository made from examples/ (anew each run), registered as ``examples``."""
    import contextlib
    import shutil

    from autodev import repos
    from autodev.errors import NotFound
    from autodev.local.git_host import make_bare_repository
    from autodev.orchestrator.workspace import REPO_ROOT

    bare = state_dir / "demo" / "examples.git"
    shutil.rmtree(bare, ignore_errors=True)
    make_bare_repository(bare, REPO_ROOT / "examples")
    with contextlib.suppress(NotFound):  # registered by an earlier run
        repos.remove_repository(DEMO_REPOSITORY, removed_by="autodev-demo")
    repos.add_repository(DEMO_REPOSITORY, str(bare), added_by="autodev-demo")
    console.print(f"repository {DEMO_REPOSITORY}: a bare repository made from examples/, {bare}")


def register(app: typer.Typer) -> None:
    @app.command()
    def demo() -> None:
        """Run the code-review and bug-fix workflows end to end on the local stack."""
        os.environ.setdefault("AUTODEV_DEMO", "1")
        statuses = run_demo()
        failed = [s for s in statuses if s.status != "succeeded"]
        if failed:
            raise DemoFailed(
                ", ".join(f"{s.template} {s.status}: {s.cause or s.error}" for s in failed)
            )
