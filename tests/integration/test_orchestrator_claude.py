"""The real Claude Code CLI under the worker: a scrubbed environment, and a timeout that kills it.

Each test runs the bundled CLI once against the scripted model server (the ``scripted_model``
fixture: the server the local stack would run), with a session the task itself supplies
(``context["scripted_session"]``), which the server reads from the task by its id.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import claude_agent_sdk
import psutil
import pytest

from autodev import progress
from autodev.config import get_settings
from autodev.db import connection
from autodev.local.model.server import ScriptedModelServer
from autodev.orchestrator import queue
from autodev.orchestrator.queue import TaskSpec
from autodev.orchestrator.worker import Worker
from autodev.progress.render import status_message

CLAUDE_CLI = str(Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude")
SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAWORKERSECRET0001",
    "AWS_SECRET_ACCESS_KEY": "worker-aws-secret-value-0001",
    "AWS_SESSION_TOKEN": "worker-aws-session-token-0001",
    "SLACK_BOT_TOKEN": "xoxb-worker-slack-secret-0001",
    "SLACK_SIGNING_SECRET": "worker-signing-secret-0001",
    "ANTHROPIC_API_KEY_BACKUP": "sk-ant-should-not-leak-0001",
}


@pytest.fixture
def scripted(
    database: str, scripted_model: ScriptedModelServer, monkeypatch: pytest.MonkeyPatch
) -> str:
    monkeypatch.setenv("AUTODEV_MODEL_PROVIDER", "scripted")
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "100")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return database


def _submit(prompt: str, tool: str, session: list[Any], **spec: Any) -> str:
    """An analysis task that plays ``session`` in a workspace holding one README."""
    return queue.submit_task(
        TaskSpec(
            task_type="analysis",
            prompt=prompt,
            allowed_tools=(tool,),
            context={"files": {"README.md": "hello\n"}, "scripted_session": session},
            **spec,
        )
    )


def _run_worker(task_id: str) -> queue.TaskStatus:
    Worker(get_settings(), max_tasks=1).run()
    return queue.get_task_status(task_id)


def test_claude_code_sees_no_credentials_of_the_worker(
    scripted: str, scripted_model: ScriptedModelServer
) -> None:
    session = [
        {
            "text": "Recording the environment.",
            "tool_calls": [
                {
                    "name": "Bash",
                    "input": {"command": "env > agent-env.txt", "description": "Save env"},
                }
            ],
        },
        {"text": "[scripted model] Saved."},
    ]
    task_id = _submit("Save the environment", "Bash", session)
    status = _run_worker(task_id)
    assert status.status == "succeeded", status.last_error
    assert status.result is not None
    workspace = Path(status.result["workspace"])
    recorded = (workspace / "agent-env.txt").read_text()
    names = {line.split("=", 1)[0] for line in recorded.splitlines() if "=" in line}
    assert "HOME" in names
    assert "PATH" in names
    assert not [n for n in names if n.startswith(("AWS_", "SLACK_", "DATABASE"))]
    for value in [*SECRETS.values(), scripted]:
        assert value not in recorded
    assert "ANTHROPIC_API_KEY=scripted-model-no-key" in recorded
    # HOME is the task's own, not the worker's.
    assert f"HOME={workspace.parent / 'home'}" in recorded
    # The agent-env.txt it wrote is the task's change, and the diff says so.
    assert status.result["files_changed"] == ["agent-env.txt"]
    # Claude Code named the task in its requests; the server played that task's session once.
    assert f"ANTHROPIC_CUSTOM_HEADERS=X-Autodev-Task-Id: {task_id}" in recorded
    stats = scripted_model.task_stats(task_id)
    assert stats is not None
    assert (stats.runs, stats.turns_served) == (1, [0, 1])


def test_a_timeout_kills_claude_code_and_everything_it_started(scripted: str) -> None:
    marker = f"autodev-timeout-{uuid.uuid4().hex[:8]}"
    session = [
        {
            "text": "Running a long command.",
            "tool_calls": [
                {
                    "name": "Bash",
                    "input": {
                        "command": f'python3 -c "import time; time.sleep(300)" {marker}',
                        "description": "Run a long command",
                    },
                }
            ],
        },
        {"text": "[scripted model] Never reached."},
    ]
    task_id = _submit("Take too long", "Bash", session, timeout_ms=6000, max_attempts=3)
    seen: dict[str, list[psutil.Process]] = {}
    done = threading.Event()

    def watch() -> None:
        # While the task runs: find the long command and the CLI that started it.
        while not done.is_set() and "command" not in seen:
            for process in psutil.process_iter(["cmdline"]):
                cmdline = " ".join(process.info["cmdline"] or [])
                if marker in cmdline and "python3" in cmdline:
                    seen["command"] = [process]
                    seen["cli"] = [p for p in process.parents() if p.cmdline()[:1] == [CLAUDE_CLI]]
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        status = _run_worker(task_id)
    finally:
        done.set()
        watcher.join()
    assert seen.get("command"), "the long command never started"
    assert seen.get("cli"), "the Claude Code CLI was not found above the command"
    assert status.status == "failed"  # a timeout is final: retrying would burn budget again
    assert status.error_code == queue.ERROR_TIMEOUT
    assert "timed out after 6 s" in (status.last_error or "")
    for process in [*seen["command"], *seen["cli"]]:
        assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


_THREE_READS = [
    {
        "text": f"Reading, turn {n}.",
        "tool_calls": [{"name": "Read", "input": {"file_path": "{workspace}/README.md"}}],
    }
    for n in range(1, 4)
] + [{"text": "[scripted model] Done."}]


@pytest.mark.parametrize(
    ("limits", "code", "cause"),
    [
        ({"max_turns": 2}, queue.ERROR_TURN_LIMIT, "the task reached its turn limit of 2 turns"),
        ({"budget_usd": 0.01}, queue.ERROR_BUDGET, "the task reached its budget of $0.01"),
    ],
)
def test_a_task_stops_with_a_clear_cause_at_its_turn_limit_or_budget(
    scripted: str, limits: dict[str, Any], code: str, cause: str
) -> None:
    task_id = _submit("Read three times", "Read", _THREE_READS, **limits)
    status = _run_worker(task_id)
    assert (status.status, status.error_code) == ("failed", code)
    assert (status.last_error or "").startswith(cause)
    assert status.cost_usd > 0  # what was spent is recorded, even on failure
    assert status.input_tokens > 0


# Four assistant messages and four tool uses (Claude Code prints each message once per
# content block, so a count of its events would say otherwise).
_KNOWN_COUNTS = [
    {
        "text": "Reading twice.",
        "tool_calls": [
            {"name": "Read", "input": {"file_path": "{workspace}/README.md"}},
            {"name": "Read", "input": {"file_path": "{workspace}/README.md"}},
        ],
    },
    {
        "text": "Editing.",
        "tool_calls": [
            {
                "name": "Edit",
                "input": {
                    "file_path": "{workspace}/README.md",
                    "old_string": "hello",
                    "new_string": "hello, world",
                },
            }
        ],
    },
    {
        "tool_calls": [
            {"name": "Bash", "input": {"command": "cat README.md", "description": "Show"}}
        ]
    },
    {"text": "[scripted model] Done."},
]


def test_progress_counts_each_assistant_message_and_tool_use_claude_code_reports(
    scripted: str, scripted_model: ScriptedModelServer
) -> None:
    task_id = queue.submit_task(
        TaskSpec(
            task_type="analysis",
            prompt="Edit the README",
            allowed_tools=("Read", "Edit", "Bash"),
            context={"files": {"README.md": "hello\n"}, "scripted_session": _KNOWN_COUNTS},
        )
    )
    status = _run_worker(task_id)
    assert status.status == "succeeded", status.last_error
    tracked = progress.get_progress(task_id)
    assert tracked is not None
    # Its first report waited for Claude Code to be up (the model's first answer): the
    # worker's background lane is held while the CLI starts.
    stats = scripted_model.task_stats(task_id)
    assert stats is not None
    assert stats.first_request_at is not None
    assert tracked.started_at >= stats.first_request_at
    assert tracked.metrics.model_dump(include={"messages", "tool_calls", "files_modified"}) == {
        "messages": 4,
        "tool_calls": 4,
        "files_modified": 1,
    }
    card = json.dumps(status_message(tracked.to_json()))
    assert "4 messages" in card
    assert "4 tool calls" in card
    with connection() as conn:
        rows = conn.execute(
            "SELECT dimensions ->> 'tool' AS tool, count(*) AS uses FROM monitoring_metrics"
            " WHERE metric_name = 'orchestrator.task.tool_use' AND dimensions ->> 'task_id' = %s"
            " GROUP BY 1",
            (task_id,),
        ).fetchall()
    assert {row["tool"]: row["uses"] for row in rows} == {"Read": 2, "Edit": 1, "Bash": 1}
