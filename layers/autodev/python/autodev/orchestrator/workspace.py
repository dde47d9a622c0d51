"""Fresh, isolated workspaces for tasks, and the diff of what a task changed.

Each attempt gets a new directory ``<root>/<task id>-<attempt>/`` holding ``repo/`` (Claude
Code's working directory) and ``home/`` (its HOME, so nothing of the worker's home is seen or
changed); ``containment`` hands both to the agent's user for the session, ``.git`` excepted.
``repo/`` holds the task's files from ``context["files"]``, or a copy (a clone, for a git URL)
of the configured Salesforce DX repository. It becomes a git repository with a
baseline commit before Claude Code runs, so the diff of the task's changes is a real
``git diff``. The changes earlier steps of the same workflow made (their diffs) are applied
and committed first, so a verify step sees the fix that the fix step made.

A workflow that works on a repository (``autodev.repos``) gets a ``checkout`` instead: it
fills ``repo/`` with the step's starting point (the workflow's branch, which has the earlier
steps' changes) and keeps the git directory outside the workspace, where the agent cannot
reach it; the diff is taken against that git directory.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from autodev.errors import AutodevError, InvalidInput

# git with a fixed identity and none of the user's configuration.
_GIT = (
    "git",
    "-c",
    "user.name=autodev",
    "-c",
    "user.email=autodev@localhost",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "init.defaultBranch=main",
    "-c",
    "core.fsmonitor=false",
)
_GIT_URL = re.compile(r"^(https?://|ssh://|git@|file://)")
_MAX_FILE_BYTES = 2 * 1024 * 1024
_IGNORED_COPY = shutil.ignore_patterns(".git", ".sfdx", ".sf", "node_modules", ".autodev")
REPO_ROOT = Path(__file__).resolve().parents[5]


class WorkspaceError(AutodevError):
    """The workspace could not be prepared (a bad repository, a bad file list)."""


@dataclass
class Workspace:
    root: Path
    repo: Path
    home: Path
    baseline: str = ""
    warnings: list[str] = field(default_factory=list)
    # Set when the work tree's git directory lives elsewhere (a repository checkout).
    git_dir: Path | None = None


class Checkout(Protocol):
    """Fills a work tree from a repository; returns its git directory and the commit."""

    def clone_into(self, work_tree: Path) -> tuple[Path, str]: ...


def default_source() -> str:
    return str(REPO_ROOT / "examples")


def _git(repo: Path, *args: str, input: str | None = None, git_dir: Path | None = None) -> str:
    place = ("--git-dir", str(git_dir), "--work-tree", str(repo)) if git_dir else ()
    completed = subprocess.run(
        [*_GIT, *place, *args],
        cwd=repo,
        input=input,
        capture_output=True,
        text=True,
        check=False,
        # No configuration but the repository's own, whose .git the agent may not write: not
        # the system's, and not a HOME's (the workspace's home/ is the agent's to write).
        env={
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(repo.parent),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
        },
    )
    if completed.returncode != 0:
        raise WorkspaceError(
            f"git {args[0]} failed in the workspace: {completed.stderr.strip()[:500]}"
        )
    return completed.stdout


def _write_files(repo: Path, files: Any) -> None:
    if not isinstance(files, dict) or not files:
        raise InvalidInput('context "files" must be a non-empty object of path -> text')
    for name, content in files.items():
        if not isinstance(name, str) or not isinstance(content, str):
            raise InvalidInput('context "files" maps file paths to text')
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise InvalidInput(f"file path {name!r} must stay inside the workspace")
        if len(content.encode()) > _MAX_FILE_BYTES:
            raise InvalidInput(f"file {name!r} is larger than 2 MB")
        target = repo.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)


def _copy_source(source: str, repo: Path) -> None:
    if _GIT_URL.match(source):
        completed = subprocess.run(
            ["git", "clone", "--quiet", "--depth", "1", source, str(repo)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if completed.returncode != 0:
            raise WorkspaceError(f"cloning {source} failed: {completed.stderr.strip()[:500]}")
        shutil.rmtree(repo / ".git", ignore_errors=True)
        return
    path = Path(source).expanduser()
    if not path.is_dir():
        raise WorkspaceError(
            f"the Salesforce DX repository {source} is not a directory (AUTODEV_SFDX_REPO)"
        )
    shutil.copytree(path, repo, ignore=_IGNORED_COPY, symlinks=True, dirs_exist_ok=True)


def create(root: Path, name: str) -> Workspace:
    """A new, empty workspace named ``name`` under ``root``: ``repo/`` and ``home/``."""
    directory = root / name
    if directory.exists():
        shutil.rmtree(directory)
    repo, home = directory / "repo", directory / "home"
    (home / "tmp").mkdir(parents=True)
    repo.mkdir()
    return Workspace(directory, repo, home)


def check_out(workspace: Workspace, checkout: Checkout) -> None:
    """Fill a created workspace's ``repo/`` from a repository (its git directory elsewhere)."""
    workspace.git_dir, workspace.baseline = checkout.clone_into(workspace.repo)


def prepare(
    root: Path,
    name: str,
    *,
    context: dict[str, Any],
    source: str | None,
    patches: Sequence[tuple[str, str]] = (),
    checkout: Checkout | None = None,
) -> Workspace:
    """A new workspace named ``name`` under ``root``; ``patches`` are (label, diff) pairs."""
    workspace = create(root, name)
    repo = workspace.repo
    if context.get("files") is not None:
        _write_files(repo, context["files"])
    elif checkout is not None:
        check_out(workspace, checkout)
        return workspace
    else:
        _copy_source(source or default_source(), repo)
    _git(repo, "init", "--quiet")
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "exclude").write_text(".claude/\n")
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "--allow-empty", "-m", "baseline")
    applied = 0
    for label, diff in patches:
        if not diff.strip():
            continue
        try:
            _git(repo, "apply", "--3way", "--whitespace=nowarn", "-", input=diff)
            applied += 1
        except WorkspaceError as error:
            workspace.warnings.append(f"the changes of {label} could not be applied: {error}")
    if applied:
        _git(repo, "add", "--all")
        _git(repo, "commit", "--quiet", "-m", "changes of earlier steps")
    workspace.baseline = _git(repo, "rev-parse", "HEAD").strip()
    return workspace


def diff(workspace: Workspace) -> tuple[str, list[str]]:
    """What the task changed since the baseline: the diff, and the changed files."""
    repo, base, git_dir = workspace.repo, workspace.baseline, workspace.git_dir
    _git(repo, "add", "--all", git_dir=git_dir)
    text = _git(repo, "diff", "--cached", "--binary", base, git_dir=git_dir)
    names = _git(repo, "diff", "--cached", "--name-only", base, git_dir=git_dir)
    return text, [line for line in names.splitlines() if line]


def remove_older_than(root: Path, seconds: float) -> int:
    """Delete workspaces not touched for ``seconds`` (old runs on a long-lived machine)."""
    if not root.is_dir():
        return 0
    cutoff = time.time() - seconds
    removed = 0
    for entry in root.iterdir():
        try:
            if entry.is_dir() and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        except FileNotFoundError:
            continue
    return removed
