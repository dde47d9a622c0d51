"""The repository registry: the CLI (one-line errors, nothing changed on bad input), the
default (registered, else AUTODEV_SFDX_REPO), and a GitLab merge request through
python-gitlab against the stand-in host."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from autodev.aws import client
from autodev.config import get_settings
from autodev.db import connection
from autodev.errors import InvalidInput
from autodev.local.git_host import LocalGitHost, make_bare_repository
from autodev.local.stack import LocalStack
from autodev.orchestrator.workspace import REPO_ROOT
from autodev.repos import (
    PullRequest,
    WorkflowReport,
    add_repository,
    default_repository,
    plan,
    propose,
    workflow_repository,
)
from autodev.repos.runs import record_push
from autodev.workflows import StartRequest, start_workflow

AUTODEV = [sys.executable, "-c", "from autodev.cli import main; main()"]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AUTODEV, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    return make_bare_repository(tmp_path / "app.git", REPO_ROOT / "examples")


def test_the_cli_adds_lists_and_removes_repositories_and_refuses_bad_input_in_one_line(
    database: str, tmp_path: Path, bare: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env.update(DATABASE_URL=database, AUTODEV_STATE_DIR=str(tmp_path / "state"), COLUMNS="200")

    added = run(env, "repo", "add", "app", str(bare), "--default")
    assert added.returncode == 0, added.stderr
    assert f"registered app: {bare} (local, branch main) as the default" in added.stdout

    for args, message in [
        (("app", str(bare)), "repository app is registered already"),
        (("other", str(bare), "--branch", "nope"), "repository other has no branch 'nope'"),
        (("other", "git@github.com:acme/app.git"), "is an SSH address"),
        (("Other", str(bare)), "is not a repository name"),
        (("default", str(bare)), "is kept for AUTODEV_SFDX_REPO"),
    ]:
        refused = run(env, "repo", "add", *args)
        assert refused.returncode == 1
        assert refused.stderr.count("\n") == 1  # one line, no traceback
        assert message in refused.stderr

    listed = run(env, "repo", "list")
    assert listed.returncode == 0
    assert "app" in listed.stdout
    assert str(bare) in listed.stdout
    assert "other" not in listed.stdout  # nothing recorded by the refused adds

    assert run(env, "repo", "remove", "app").returncode == 0
    gone = run(env, "repo", "remove", "app")
    assert gone.returncode == 1
    assert "no repository 'app'; the repositories are: none is registered" in gone.stderr


def test_the_default_is_the_registered_one_else_autodev_sfdx_repo(
    database: str, bare: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTODEV_SFDX_REPO", str(REPO_ROOT / "examples"))  # a plain directory
    get_settings.cache_clear()
    assert default_repository() is None
    assert plan({"description": "x"}) is None  # workspaces are copies, as before

    monkeypatch.setenv("AUTODEV_SFDX_REPO", str(bare))
    get_settings.cache_clear()
    found = plan({"description": "x"})
    assert found is not None
    assert (found.repository.name, found.ref, found.base_branch) == ("default", "main", "main")
    main = subprocess.run(
        ["git", f"--git-dir={bare}", "rev-parse", "main"], capture_output=True, text=True
    ).stdout.strip()
    assert found.base_commit == main

    other = make_bare_repository(tmp_path / "other.git", REPO_ROOT / "examples", branch="develop")
    add_repository("other", str(other), added_by="U1", branch="develop", default=True)
    chosen = plan({})
    assert chosen is not None
    assert (chosen.repository.name, chosen.ref) == ("other", "develop")
    by_name = plan({"repo": "default", "ref": main[:10]})  # a commit: the base is its branch
    assert by_name is not None
    assert (by_name.base_commit, by_name.base_branch) == (main, "main")


def test_a_ref_is_resolved_as_a_branch_a_tag_or_a_commit(
    database: str, bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTODEV_SFDX_REPO", str(bare))
    get_settings.cache_clear()
    git = ["git", f"--git-dir={bare}"]
    main = subprocess.run([*git, "rev-parse", "main"], capture_output=True, text=True)
    subprocess.run([*git, "tag", "v1", "main"], check=True)
    subprocess.run([*git, "branch", "release", "main"], check=True)
    spawned: list[list[str]] = []
    run_git = subprocess.run

    def counted(argv: list[str], *args: object, **kwargs: object) -> object:
        spawned.append(argv)
        return run_git(argv, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "run", counted)
    branch = plan({"ref": "release"})
    assert branch is not None
    # A branch is its own base, found by one git process (every start's ref is looked up).
    assert (branch.ref, branch.base_branch, branch.base_commit) == (
        "release",
        "release",
        main.stdout.strip(),
    )
    assert len(spawned) == 1
    tag = plan({"ref": "v1"})
    assert tag is not None
    # A tag is no branch: the pull request goes to the default branch.
    assert (tag.ref, tag.base_branch, tag.base_commit) == ("v1", "main", main.stdout.strip())
    with pytest.raises(InvalidInput, match="has no branch, tag or commit 'nope'"):
        plan({"ref": "nope"})


def test_a_gitlab_merge_request_is_opened_once_through_python_gitlab(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    token = f"glpat-{uuid.uuid4().hex}"
    with LocalGitHost(tmp_path / "host", tokens={"acme/app": token}) as host:
        bare = host.create_repository("acme/app", REPO_ROOT / "examples")
        arn = client("secretsmanager").create_secret(
            Name=f"autodev/test/repositories/{uuid.uuid4().hex[:8]}", SecretString=token
        )["ARN"]
        add_repository(
            "app",
            host.clone_url("acme/app"),
            added_by="U1",
            provider="gitlab",
            api_url=host.url,
            credentials=arn,
        )
        started = start_workflow(
            StartRequest("bug-fix", {"description": "NPE", "repo": "app"}, "U2")
        )
        run_ = workflow_repository(started.id)
        assert run_ is not None
        # A step pushed the branch (as the worker does).
        subprocess.run(["git", f"--git-dir={bare}", "branch", run_.branch, "main"], check=True)
        record_push(started.id, "f" * 40)
        report = WorkflowReport(
            workflow_id=started.id,
            template_title="Bug fix",
            execution_name=started.execution_name,
            execution_url=started.console_url,
            requested_by="U2",
            request="NPE",
            summary="Fixed.",
            steps=[("Implement the fix", "Fixed.")],
        )

        opened = propose(report, draft=True)
        assert isinstance(opened, PullRequest)
        (recorded,) = host.pull_requests
        assert (recorded["kind"], recorded["head"], recorded["base"]) == (
            "gitlab",
            run_.branch,
            "main",
        )
        assert recorded["title"] == "Draft: [autodev] Bug fix: NPE"
        assert opened.diff_url == recorded["url"] + "/diffs"
        # A finish that runs twice opens nothing new; nor does a lost record of the first.
        assert propose(report, draft=True) == opened
        _forget_pull_request(started.id)
        again = propose(report, draft=True)
        assert isinstance(again, PullRequest)
        assert again.url == opened.url
        assert len(host.pull_requests) == 1
        assert "comments" not in recorded  # the same report is not said twice
        # Another run on the branch (a follow-up) keeps the pull request and comments on it.
        follow_up = dataclasses.replace(report, summary="Fixed the bulk case too.")
        _forget_pull_request(started.id)
        assert propose(follow_up, draft=True) == again
        assert len(host.pull_requests) == 1
        assert len(recorded["comments"]) == 1
        assert "Fixed the bulk case too." in recorded["comments"][0]
        assert all(auth for _, path, auth in host.requests if "/api/v4/" in path)


def _forget_pull_request(workflow_id: str) -> None:
    """As if the pull request's record were lost (or another run finished on the branch)."""
    with connection() as conn:
        conn.execute(
            "UPDATE workflow_repositories SET pull_request_url = NULL, "
            "pull_request_number = NULL WHERE workflow_id = %s",
            (workflow_id,),
        )
