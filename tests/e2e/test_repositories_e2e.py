"""Repositories in, pull requests out, on the whole local stack: worker processes started by
the scaler, the real Claude Code CLI on the scripted model, a bare repository made from
examples/, git pushing to it, and PyGithub opening the pull request on the stand-in host."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from autodev.callbacks import get_result
from autodev.callbacks.models import CachedResult
from autodev.config import get_settings
from autodev.db import connection
from autodev.local import LocalStack, git_host, orchestrator
from autodev.local import salesforce as local_salesforce
from autodev.local.model import service as scripted_model
from autodev.local.testing import wait_until_finished
from autodev.orchestrator.workspace import REPO_ROOT
from autodev.repos import add_repository
from autodev.workflows import StartRequest, start_workflow

pytestmark = pytest.mark.e2e

TRIGGER = "force-app/main/default/triggers/AccountTrigger.trigger"
SERVICE = "force-app/main/default/classes/AccountService.cls"


git = git_host.read_git


@pytest.fixture
def stack(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    monkeypatch.setenv("AUTODEV_MODEL_PROVIDER", "scripted")
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "5000")
    get_settings.cache_clear()
    # The stand-in sf and its orgs: full-analysis-improvement runs its Apex tests in 'ci'.
    services = [
        scripted_model.SERVICE,
        git_host.SERVICE,
        local_salesforce.SERVICE,
        orchestrator.SERVICE,
    ]
    with LocalStack(services=services) as running:
        yield running


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    return git_host.make_bare_repository(tmp_path / "salesforce.git", REPO_ROOT / "examples")


def test_bug_fix_on_a_bare_repository_pushes_its_branch_and_opens_a_pull_request(
    stack: LocalStack, bare: Path
) -> None:
    main_before = git(bare, "rev-parse", "refs/heads/main").strip()
    add_repository("salesforce", str(bare), added_by="U1")

    started = start_workflow(
        StartRequest(
            "bug-fix",
            {
                "description": "AccountTrigger throws a NullPointerException on bulk insert",
                "component": "AccountTrigger",
                "repo": "salesforce",
            },
            "U0CAROL",
        )
    )
    status = wait_until_finished(started.id, timeout=240)
    assert status.status == "succeeded", (status.error, status.cause)

    branch = f"autodev/bug-fix/{started.id.replace('-', '')[:8]}"
    heads = git(bare, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
    assert sorted(heads) == sorted(["main", branch])  # nothing written outside autodev/
    assert git(bare, "rev-parse", "refs/heads/main").strip() == main_before  # untouched
    changed = git(bare, "diff", "--name-only", f"main...{branch}").split()
    assert changed == [TRIGGER]
    fixed = git(bare, "show", f"{branch}:{TRIGGER}")
    assert "'Technology'.equals(acc.Industry)" in fixed
    message = git(bare, "log", "-1", "--format=%an <%ae>%n%B", branch)
    assert message.startswith("autodev <autodev@localhost>")
    assert "Requested-by: U0CAROL" in message

    (pull,) = git_host.recorded_pull_requests(
        git_host.host_directory(get_settings().autodev_state_dir.resolve())
    )
    assert (pull["head"], pull["base"], pull["draft"]) == (branch, "main", True)
    assert pull["project"] == "local/salesforce"
    assert started.execution_name in pull["body"]  # the report links its execution
    assert "Implement the fix" in pull["body"]

    cached = get_result(started.id)  # what `autodev workflow result` and the API serve
    assert isinstance(cached, CachedResult)
    assert cached.result["branch"] == branch
    assert cached.result["repository"] == "salesforce"
    assert cached.result["pull_request_url"] == pull["url"]
    assert cached.result["diff_url"] == pull["url"] + "/files"
    # The verification ran on the fix: it started from the workflow's branch.
    with connection() as conn:
        verify = conn.execute(
            "SELECT result FROM autonomous_tasks WHERE workflow_id = %s "
            "AND step_name = 'Verify the fix'",
            (started.id,),
        ).fetchone()
    assert verify is not None
    assert verify["result"]["passed"] is True


def test_map_iterations_changing_different_files_end_on_the_workflow_s_one_branch(
    stack: LocalStack, bare: Path
) -> None:
    add_repository("salesforce", str(bare), added_by="U1", default=True)

    started = start_workflow(
        StartRequest("full-analysis-improvement", {"target": "force-app"}, "U0DAVE")
    )
    status = wait_until_finished(started.id, timeout=300)
    assert status.status == "succeeded", (status.error, status.cause)

    branch = f"autodev/full-analysis-improvement/{started.id.replace('-', '')[:8]}"
    heads = git(bare, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
    iterations = sorted(h for h in heads if h.startswith(f"{branch}-item-"))
    assert len(iterations) >= 2  # each iteration pushed its own branch first
    assert set(heads) == {"main", branch, *iterations}
    # Both files the iterations fixed are on the workflow's one branch, merged, not forced.
    assert sorted(git(bare, "diff", "--name-only", f"main...{branch}").split()) == sorted(
        [SERVICE, TRIGGER]
    )
    # The last attempt of each item is merged (an earlier attempt that failed after pushing
    # its branch keeps it, unmerged: its changes are not the step's).
    last: dict[str, str] = {}
    for iteration in iterations:
        item = iteration.removeprefix(f"{branch}-item-").split("-attempt-")[0]
        attempt = int(iteration.split("-attempt-")[1]) if "-attempt-" in iteration else 1
        kept = last.get(item)
        if kept is None or attempt > (
            int(kept.split("-attempt-")[1]) if "-attempt-" in kept else 1
        ):
            last[item] = iteration
    for iteration in last.values():
        merged = subprocess.run(
            ["git", f"--git-dir={bare}", "merge-base", "--is-ancestor", iteration, branch],
            check=False,
        )
        assert merged.returncode == 0, f"{iteration} is not merged into {branch}: {heads}"
    # Each iteration's commit is on the branch: merged when the iterations overlapped, a fast
    # forward when one started from the branch the other had already reached (a loaded machine).
    log = git(bare, "log", "--format=%s", branch)
    assert "Implement fix #1" in log
    assert "Implement fix #2" in log
    cached = get_result(started.id)
    assert isinstance(cached, CachedResult)
    assert cached.result["branch"] == branch
    assert not cached.result.get("conflicts")
    (pull,) = git_host.recorded_pull_requests(
        git_host.host_directory(get_settings().autodev_state_dir.resolve())
    )
    assert pull["head"] == branch
