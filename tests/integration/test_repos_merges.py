"""Map iterations on a real bare repository: each pushes its own branch, then merges into the
workflow's one branch; a conflict is reported and changes nothing; nothing is forced.

Two iterations are cloned from the same starting point before either publishes, as they are
when a Map runs them at once; their changes are written as an agent would write them, then
published by the worker's own code (``RepositoryCheckout``).
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from autodev.config import get_settings
from autodev.local.git_host import LocalGitHost, make_bare_repository, read_git
from autodev.local.model.server import ScriptedModelServer
from autodev.local.stack import LocalStack
from autodev.orchestrator import claude_cli
from autodev.orchestrator.claude_task import ClaudeCodeTaskRunner
from autodev.orchestrator.execution import Execution
from autodev.orchestrator.progress_hook import ProgressHook
from autodev.orchestrator.queue import ClaimedTask
from autodev.repos import RepositoryTooLarge, add_repository, links
from autodev.repos.checkout import RepositoryCheckout
from autodev.workflows import StartRequest, start_workflow

git = read_git


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.txt").write_text("alpha\n")
    (source / "b.txt").write_text("beta\n")
    return make_bare_repository(tmp_path / "app.git", source)


@pytest.fixture
def workflow_id(local_stack: LocalStack, bare: Path) -> str:
    add_repository("app", str(bare), added_by="U1")
    started = start_workflow(
        StartRequest("full-analysis-improvement", {"target": "x", "repo": "app"}, "U0ERIN")
    )
    return started.id


def iteration(workflow_id: str, index: int) -> ClaimedTask:
    return ClaimedTask(
        id=str(uuid.uuid4()),
        workflow_id=workflow_id,
        step_name=f"Implement fix #{index + 1}",
        task_type="fix",
        prompt="",
        context={"template": "full-analysis-improvement", "step": "implement", "item_index": index},
        allowed_tools=(),
        max_turns=1,
        budget_usd=None,
        priority="normal",
        timeout_ms=60_000,
        attempts=1,
        max_attempts=1,
        task_token=None,
        lease_expires_at=datetime.now(UTC),
        claimed_at=datetime.now(UTC),
    )


def cloned(task: ClaimedTask, where: Path) -> RepositoryCheckout:
    checkout = RepositoryCheckout.for_task(task, get_settings())
    assert checkout is not None
    checkout.clone_into(where)
    return checkout


def agent_writes(where: Path, files: dict[str, str]) -> Execution:
    for name, text in files.items():
        (where / name).write_text(text)
    return Execution(ok=True, summary="[scripted model] changed it", files_changed=list(files))


def _unreaped_or_cli(process: psutil.Process, cli: str) -> bool:
    """Whether a process the step started is left unreaped or still runs the CLI; one that
    ended while we looked is neither."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE or cli in process.cmdline()
    except psutil.NoSuchProcess:
        return False


def test_two_iterations_changing_different_files_end_on_the_workflow_s_one_branch(
    workflow_id: str, bare: Path, tmp_path: Path
) -> None:
    first = cloned(iteration(workflow_id, 0), tmp_path / "w1")
    second = cloned(iteration(workflow_id, 1), tmp_path / "w2")  # before the first publishes
    one = agent_writes(tmp_path / "w1", {"a.txt": "alpha, fixed\n"})
    two = agent_writes(tmp_path / "w2", {"b.txt": "beta, fixed\n"})

    first.publish(one)
    second.publish(two)

    assert (one.ok, two.ok) == (True, True)
    branch = one.git["branch"]
    assert branch == f"autodev/full-analysis-improvement/{workflow_id.replace('-', '')[:8]}"
    assert (one.git["merge"], two.git["merge"]) == ("pushed", "merged")
    assert git(bare, "show", f"{branch}:a.txt") == "alpha, fixed\n"
    assert git(bare, "show", f"{branch}:b.txt") == "beta, fixed\n"
    assert git(bare, "show", "main:a.txt") == "alpha\n"  # the default branch is untouched
    # The second iteration's own branch, merged into the first's: a merge, not a force.
    item = git(bare, "rev-parse", f"{branch}-item-2").strip()
    assert git(bare, "log", "-1", "--format=%P", branch).split() == [one.git["commit"], item]
    assert two.git["commit"] == git(bare, "rev-parse", branch).strip()
    assert "Requested-by: U0ERIN" in git(bare, "log", "-1", "--format=%B", branch)
    assert "conflicts" not in links(workflow_id)
    for checkout in (first, second):
        checkout.close()


def test_a_conflict_between_iterations_is_reported_and_the_branch_is_left_as_it_was(
    workflow_id: str, bare: Path, tmp_path: Path
) -> None:
    first = cloned(iteration(workflow_id, 0), tmp_path / "w1")
    second = cloned(iteration(workflow_id, 1), tmp_path / "w2")
    one = agent_writes(tmp_path / "w1", {"a.txt": "alpha, one way\n"})
    two = agent_writes(tmp_path / "w2", {"a.txt": "alpha, another way\n"})

    first.publish(one)
    branch = one.git["branch"]
    before = git(bare, "rev-parse", branch).strip()
    second.publish(two)

    assert two.ok  # the step did its work; its changes wait on their own branch
    assert two.git["merge"] == "conflict"
    conflict = two.git["conflict"]
    assert conflict == {
        "step": "Implement fix #2",
        "branch": f"{branch}-item-2",
        "files": ["a.txt"],
    }
    assert any("conflict" in warning and "a.txt" in warning for warning in two.warnings)
    assert git(bare, "rev-parse", branch).strip() == before  # not merged, nothing forced
    assert git(bare, "show", f"{branch}:a.txt") == "alpha, one way\n"
    assert git(bare, "show", f"{branch}-item-2:a.txt") == "alpha, another way\n"
    reported = links(workflow_id)
    assert reported["branch"] == branch
    assert reported["conflicts"] == [conflict]
    for checkout in (first, second):
        checkout.close()


def test_an_iteration_whose_push_loses_a_race_merges_and_pushes_again(
    workflow_id: str, bare: Path, tmp_path: Path
) -> None:
    """Two iterations publishing at the same moment: the server tells the second where the
    branch is, then the first's push lands before the second's updates it. The second is
    refused ("cannot lock ref ... but expected"), merges what the first pushed, and pushes
    again: its step does not fail (and run again) over it."""
    first = cloned(iteration(workflow_id, 0), tmp_path / "w1")
    second = cloned(iteration(workflow_id, 1), tmp_path / "w2")
    one = agent_writes(tmp_path / "w1", {"a.txt": "alpha, fixed\n"})
    two = agent_writes(tmp_path / "w2", {"b.txt": "beta, fixed\n"})
    first.publish(one)
    branch, landed = one.git["branch"], one.git["commit"]
    # The branch as the second iteration finds it, and the first's push landing under it: a
    # hook that moves the branch once, between the server's answer and the update.
    git(bare, "update-ref", f"refs/heads/{branch}", one.git["parent"])
    hook = bare / "hooks" / "pre-receive"
    race = tmp_path / "race"
    hook.write_text(
        "#!/bin/sh\n"
        f'while read old new ref; do if [ "$ref" = "refs/heads/{branch}" ] && [ -f "{race}" ]\n'
        f'then rm "{race}"; env -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY'
        f' git update-ref "$ref" {landed}; fi; done\n'
    )
    hook.chmod(0o755)
    race.touch()

    second.publish(two)

    assert not race.exists()  # the race happened
    assert two.ok, two.error
    assert two.git["merge"] == "merged"
    assert git(bare, "log", "-1", "--format=%P", branch).split()[0] == landed
    assert git(bare, "show", f"{branch}:a.txt") == "alpha, fixed\n"
    assert git(bare, "show", f"{branch}:b.txt") == "beta, fixed\n"
    for checkout in (first, second):
        checkout.close()


def test_a_checkout_fetches_its_commit_with_every_file_in_one_exchange(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    """Over HTTP, as from a real host: the checkout asks the host nothing after the fetch (a
    partial clone's checkout fetches the files it lacks, one more exchange), and later
    fetches stay partial (a merge fetches only what it reads)."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.txt").write_text("alpha\n")
    with LocalGitHost(tmp_path / "host") as host:
        host.create_repository("acme/app", source)
        add_repository("hosted", host.clone_url("acme/app"), added_by="U1", provider="github")
        started = start_workflow(
            StartRequest("full-analysis-improvement", {"target": "x", "repo": "hosted"}, "U1")
        )
        before = len(host.requests)
        checkout = cloned(iteration(started.id, 0), tmp_path / "w")
        asked = [path for method, path, _ in host.requests[before:] if method == "POST"]
    try:
        assert (tmp_path / "w" / "a.txt").read_text() == "alpha\n"
        # One exchange looks up the workflow's branch (not there yet), one fetches the commit.
        assert asked == ["/acme/app.git/git-upload-pack"] * 2
        config = ("config", "--get", "remote.origin.partialclonefilter")
        assert git(checkout.git_dir, *config).strip() == "blob:none"
        # A one-step clone: no maintenance process after its fetches.
        assert git(checkout.git_dir, "config", "--get", "maintenance.auto").strip() == "false"
    finally:
        checkout.close()


def test_a_checkout_larger_than_the_limit_is_refused_clearly(
    local_stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "big"
    source.mkdir()
    (source / "data.bin").write_bytes(os.urandom(3 * 1024 * 1024))  # incompressible
    bare = make_bare_repository(tmp_path / "big.git", source)
    add_repository("big", str(bare), added_by="U1")
    started = start_workflow(
        StartRequest("full-analysis-improvement", {"target": "x", "repo": "big"}, "U1")
    )
    monkeypatch.setenv("AUTODEV_REPO_MAX_MB", "1")
    get_settings.cache_clear()
    checkout = RepositoryCheckout.for_task(iteration(started.id, 0), get_settings())
    assert checkout is not None
    with pytest.raises(
        RepositoryTooLarge, match=r"^repository big: the checkout passed the size limit of 1 MB"
    ):
        checkout.clone_into(tmp_path / "w")
    checkout.close()


def test_a_checkout_that_fails_fails_the_step_and_ends_the_claude_code_started_for_it(
    workflow_id: str,
    bare: Path,
    scripted_model: ScriptedModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Claude Code starts while the checkout fills its workspace (``ClaudeCodeTaskRunner``):
    when the checkout fails, the CLI never gets a prompt and is ended, and the step fails
    with the checkout's error."""
    monkeypatch.setenv("AUTODEV_MODEL_PROVIDER", "scripted")
    get_settings.cache_clear()
    shutil.rmtree(bare)  # the repository is gone: nothing can be fetched
    settings = get_settings()
    task = iteration(workflow_id, 0)
    ours = psutil.Process()
    before = {child.pid for child in ours.children(recursive=True)}
    runner = ClaudeCodeTaskRunner(settings, "worker-checkout-fails")
    cli = str(claude_cli.cli_path())
    try:
        execution = runner.execute(task, lambda: None, ProgressHook(task.id))
        # Ended by the step itself, not by the worker's end (closing the runner).
        started = [c for c in ours.children(recursive=True) if c.pid not in before]
        left = [c for c in started if _unreaped_or_cli(c, cli)]
    finally:
        runner.close()
    assert left == []
    assert not execution.ok
    assert execution.error is not None
    assert execution.error.startswith("repository app: "), execution.error
    assert execution.workspace is None
    assert execution.diff == ""
    # The CLI had been started: it writes its log there.
    space = settings.workspace_root / f"{task.id}-{task.attempts}"
    assert (space / "claude-code.stderr.log").exists()
