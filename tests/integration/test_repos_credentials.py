"""A repository's credentials reach git and the host's API, never the agent.

The repository is served by the stand-in host over HTTP with basic authentication (``git
http-backend``), its token a canary kept in Secrets Manager (moto); the worker runs the real
Claude Code CLI on the scripted model, whose session saves the agent's environment into the
workspace and lists it. The canary must be in neither, nor anywhere in the task's directory,
while the clone and the push went through with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autodev.aws import client
from autodev.config import get_settings
from autodev.errors import AutodevError
from autodev.local.git_host import LocalGitHost
from autodev.local.model.server import ScriptedModelServer
from autodev.local.stack import LocalStack
from autodev.orchestrator import queue
from autodev.orchestrator.queue import TaskSpec
from autodev.orchestrator.worker import Worker
from autodev.orchestrator.workspace import REPO_ROOT
from autodev.repos import add_repository
from autodev.repos.credentials import forget_cached
from autodev.workflows import StartRequest, start_workflow

CANARY = f"canary-token-{uuid.uuid4().hex}"
PROJECT = "acme/salesforce"


@pytest.fixture
def host(tmp_path: Path) -> Iterator[LocalGitHost]:
    with LocalGitHost(tmp_path / "host", tokens={PROJECT: CANARY}) as running:
        running.create_repository(PROJECT, REPO_ROOT / "examples")
        yield running


@pytest.fixture
def scripted(
    local_stack: LocalStack, scripted_model: ScriptedModelServer, monkeypatch: pytest.MonkeyPatch
) -> LocalStack:
    monkeypatch.setenv("AUTODEV_MODEL_PROVIDER", "scripted")
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "100")
    get_settings.cache_clear()
    forget_cached()
    return local_stack


def _secret(value: str) -> str:
    name = f"autodev/test/repositories/{uuid.uuid4().hex[:8]}"
    return str(client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"])


def _register(host: LocalGitHost, arn: str) -> None:
    add_repository(
        "salesforce",
        host.clone_url(PROJECT),
        added_by="U1",
        provider="github",
        credentials=arn,
    )


def _run_step(workflow_id: str, session: list[dict[str, Any]]) -> queue.TaskStatus:
    """One fix step of the workflow, playing ``session``, run by a real worker."""
    task_id = queue.submit_task(
        TaskSpec(
            task_type="fix",
            prompt="Record what you can see.",
            priority="critical",  # before the workflow's own first step
            allowed_tools=("Bash", "Read", "Write"),
            context={"template": "bug-fix", "step": "fix", "scripted_session": session},
            workflow_id=workflow_id,
            step_name="Implement the fix",
        )
    )
    Worker(get_settings(), max_tasks=1).run()
    return queue.get_task_status(task_id)


LOOK_AROUND: list[dict[str, Any]] = [
    {
        "text": "Looking at my environment and my workspace.",
        "tool_calls": [
            {
                "name": "Bash",
                "input": {
                    "command": "env > agent-env.txt; ls -laR . > agent-files.txt; "
                    "git config --list --show-origin > agent-git.txt 2>&1; "
                    "cat ~/.git-credentials ~/.gitconfig >> agent-git.txt 2>&1; true",
                    "description": "Record the environment and the files",
                },
            }
        ],
    },
    {"text": "[scripted model] Recorded."},
]


def test_the_agent_never_sees_the_repository_s_token_and_the_push_uses_it(
    scripted: LocalStack,
    host: LocalGitHost,
    capfd: pytest.CaptureFixture[str],
) -> None:
    _register(host, _secret(CANARY))
    started = start_workflow(
        StartRequest("bug-fix", {"description": "NPE on bulk insert", "repo": "salesforce"}, "U2")
    )

    status = _run_step(started.id, LOOK_AROUND)

    assert status.status == "succeeded", status.last_error
    assert status.result is not None
    workspace = Path(status.result["workspace"])
    environment = (workspace / "agent-env.txt").read_text()
    assert "PATH=" in environment  # the agent did run, and recorded what it had
    assert "AUTODEV_GIT" not in environment
    assert not (workspace / ".git").exists()  # no repository, no remote, no credentials
    assert "sfdx-project.json" in (workspace / "agent-files.txt").read_text()  # the clone
    task_dir = workspace.parent
    for path in task_dir.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), f"the token is in {path}"
    # The worker pushed what the agent wrote, through the authenticated host.
    branch = status.result["git"]["branch"]
    assert branch == f"autodev/bug-fix/{started.id.replace('-', '')[:8]}"
    pushed = host.root / f"{PROJECT}.git"
    assert (pushed / "refs" / "heads" / branch).is_file() or branch in (
        pushed / "packed-refs"
    ).read_text(encoding="utf-8", errors="replace")
    assert any(auth for _, path, auth in host.requests if "git-receive-pack" in path)
    # Nothing the worker logged or printed carries the token either.
    printed = capfd.readouterr()
    assert CANARY not in printed.out + printed.err


def test_a_refused_credential_fails_the_step_with_git_s_words_and_without_the_token(
    scripted: LocalStack, host: LocalGitHost
) -> None:
    arn = _secret(CANARY)
    _register(host, arn)
    started = start_workflow(
        StartRequest("bug-fix", {"description": "NPE on bulk insert", "repo": "salesforce"}, "U2")
    )
    wrong = f"wrong-token-{uuid.uuid4().hex}"
    client("secretsmanager").put_secret_value(SecretId=arn, SecretString=wrong)
    forget_cached()

    status = _run_step(started.id, LOOK_AROUND)

    assert (status.status, status.attempts) == ("failed", 1)  # refused: not retried
    error = status.last_error or ""
    assert error.startswith("repository salesforce: looking up autodev/bug-fix/")
    assert "Authentication failed" in error or "returned error: 401" in error
    assert wrong not in error
    assert CANARY not in error


def test_a_ref_that_does_not_exist_or_an_unreachable_host_is_refused_before_anything_starts(
    scripted: LocalStack, host: LocalGitHost
) -> None:
    _register(host, _secret(CANARY))
    with pytest.raises(AutodevError, match=r"repository salesforce has no branch, tag or commit"):
        start_workflow(
            StartRequest(
                "bug-fix",
                {"description": "NPE", "repo": "salesforce", "ref": "no-such-branch"},
                "U2",
            )
        )
    with pytest.raises(AutodevError, match=r"no repository 'elsewhere'; the repositories are: "):
        start_workflow(StartRequest("bug-fix", {"description": "NPE", "repo": "elsewhere"}, "U2"))
    host.stop()
    with pytest.raises(AutodevError, match=r"^repository salesforce: looking up 'main' failed"):
        start_workflow(StartRequest("bug-fix", {"description": "NPE", "repo": "salesforce"}, "U2"))
    assert queue.queue_depth().total_queued == 0  # no step was queued: nothing started
