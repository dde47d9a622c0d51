"""The worker's side of a workflow's repository: clone the step's starting point into the
workspace, and after the agent exits, commit what it changed and push it.

The git directory is the worker's own, outside the workspace and outside the agent's home
(a private temporary directory, mode 0700): the workspace is a plain work tree with no
``.git``, no remote and no credentials, and whatever the agent writes there cannot configure
the git the worker runs afterwards (no hooks, filters or fsmonitor of its making).

Where a step starts: the workflow's branch ``autodev/<template>/<short id>`` when an earlier
step pushed it, else the commit the workflow's ref resolved to. A step that changed files
commits as autodev (the requester in a ``Requested-by`` trailer) and pushes to the
workflow's branch, never with force. A Map iteration first pushes its own branch
(``...-item-<n>``), then merges it into the workflow's branch (``git merge-tree``, no work tree
needed); a conflict leaves the workflow's branch as it was and is reported. A push that is
refused because the branch moved (another step or iteration pushed first) is merged and
tried again. Nothing is ever pushed outside ``autodev/``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from autodev.config import Settings
from autodev.errors import AutodevError
from autodev.observability import child_logger
from autodev.orchestrator.execution import Execution
from autodev.orchestrator.queue import ClaimedTask
from autodev.repos import runs
from autodev.repos.git import MIB, Git
from autodev.repos.models import BRANCH_PREFIX, Conflict, RepositoryError, WorkflowRepository
from autodev.repos.refs import credential_of
from autodev.repos.urls import transport

log = child_logger(__name__)

# Never committed: Claude Code's own settings, and the Salesforce CLI's local state.
_EXCLUDED = ".claude/\n.sf/\n.sfdx/\n"
# Pushes refused because the branch moved, merged and tried again at most this often.
_PUSH_ATTEMPTS = 5
_CLONE_TIMEOUT_SECONDS = 900
_SUMMARY_LINES = 12


def _config(url: str) -> str:
    """The git directory's configuration: a work tree elsewhere, a partial clone of ``url``,
    quoted as ``git config`` quotes a value (so nothing in it can start a line of its own),
    and no ``git maintenance run --auto`` after each fetch: the clone lives for one step, and
    that process was 5 ms of CPU (of the checkout's 51) beside Claude Code's start."""
    quoted = url.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in quoted):
        raise RepositoryError("the repository's address has a control character")
    return (
        "[core]\n"
        "\trepositoryformatversion = 1\n"
        "\tfilemode = true\n"
        "\tbare = false\n"
        "[extensions]\n"
        "\tpartialClone = origin\n"
        "[maintenance]\n"
        "\tauto = false\n"
        '[remote "origin"]\n'
        f'\turl = "{quoted}"\n'
        "\tpromisor = true\n"
        "\tpartialclonefilter = blob:none\n"
    )


class UnsafeBranch(AutodevError):
    """A push outside autodev/ was attempted (a bug): refused before git runs."""


def _check_branch(branch: str) -> str:
    if not branch.startswith(BRANCH_PREFIX) or ".." in branch:
        raise UnsafeBranch(f"autodev pushes only to branches under {BRANCH_PREFIX}, not {branch!r}")
    return branch


class RepositoryCheckout:
    """One task's checkout of its workflow's repository."""

    def __init__(self, run: WorkflowRepository, task: ClaimedTask, settings: Settings) -> None:
        self.run = run
        self.task = task
        self.settings = settings
        self.private = Path(tempfile.mkdtemp(prefix="autodev-git-"))  # 0700, the worker's
        self.git_dir = self.private / "git"
        self.work_tree: Path | None = None
        self.start_commit = ""
        self._git: Git | None = None

    @classmethod
    def for_task(cls, task: ClaimedTask, settings: Settings) -> RepositoryCheckout | None:
        """The checkout for a task of a workflow that works on a repository, else None."""
        if not task.workflow_id or task.context.get("files") is not None:
            return None
        run = runs.workflow_repository(task.workflow_id)
        return cls(run, task, settings) if run is not None else None

    # --- helpers ---

    @property
    def name(self) -> str:
        return self.run.repository.name

    def git(self) -> Git:
        if self._git is None:
            self._git = Git(
                self.name,
                scratch=self.private,
                git_dir=self.git_dir,
                work_tree=self.work_tree,
                credential=credential_of(self.run.repository),
                email=self.settings.autodev_git_email,
                protocols=transport(self.run.repository.url),
            )
        return self._git

    def _remote_tip(self, branch: str) -> str | None:
        listed = self.git().run(
            "ls-remote", "origin", f"refs/heads/{branch}", what=f"looking up {branch}"
        )
        line = listed.stdout.strip().splitlines()
        return line[0].split()[0] if line else None

    # --- before the agent ---

    def clone_into(self, work_tree: Path) -> tuple[Path, str]:
        """Fill ``work_tree`` with the step's starting point; returns the git directory and
        the commit. Shallow (one commit, with its files), a partial clone for later fetches, and
        stopped when it passes AUTODEV_REPO_MAX_MB."""
        self.work_tree = work_tree
        work_tree.mkdir(parents=True, exist_ok=True)
        Git(self.name, scratch=self.private).run(
            "init", "--quiet", "--bare", str(self.git_dir), what="git init"
        )
        git = self.git()
        # Written at once rather than with a git config command per key (a process each).
        (self.git_dir / "config").write_text(_config(self.run.repository.url))
        (self.git_dir / "info").mkdir(exist_ok=True)
        (self.git_dir / "info" / "exclude").write_text(_EXCLUDED)
        start = self._remote_tip(self.run.branch) or self.run.base_commit
        limit = self.settings.autodev_repo_max_mb * MIB
        measure = (self.git_dir, work_tree)
        # The checkout needs every file of this one commit, so they come with it: with the
        # partial clone's filter, the checkout fetched them in an exchange of its own (263 ms
        # against 179 from the stand-in host, medians of 15). Later fetches (a merge in
        # ``_integrate``) keep the filter and fetch only what they read.
        git.run_within(
            "fetch",
            "--quiet",
            "--no-tags",
            "--depth=1",
            "--no-filter",
            "origin",
            start,
            what=f"fetching {start[:12]}",
            limit_bytes=limit,
            measure=measure,
            timeout=_CLONE_TIMEOUT_SECONDS,
        )
        git.run_within(
            "checkout",
            "--quiet",
            "--detach",
            start,
            what=f"checking out {start[:12]}",
            limit_bytes=limit,
            measure=measure,
            timeout=_CLONE_TIMEOUT_SECONDS,
        )
        self.start_commit = start
        return self.git_dir, start

    # --- after the agent ---

    def _message(self, summary: str) -> str:
        step = self.task.step_name or self.task.context.get("step") or self.task.task_type
        lines = [line for line in summary.strip().splitlines() if not line.startswith("```")]
        body = "\n".join(lines[:_SUMMARY_LINES]).strip()
        return f"{self.run.template}: {step}\n\n{body}".strip() + "\n"

    def _iteration(self) -> int | None:
        index = self.task.context.get("item_index")
        return int(index) if isinstance(index, int) else None

    def publish(self, execution: Execution) -> None:
        """Commit and push what a successful step changed; says so in ``execution.git``.
        A push that fails fails the step with git's error (credentials stripped)."""
        if not execution.ok or not execution.files_changed:
            return
        try:
            execution.git = self._publish(execution.summary)
        except RepositoryError as error:
            execution.ok = False
            execution.error = str(error)
            execution.retryable = error.retryable
            return
        conflict = execution.git.get("conflict")
        if conflict:
            execution.warnings.append(
                f"the changes of {conflict['step']} conflict with {self.run.branch} in "
                f"{', '.join(conflict['files'])}: they stay on {conflict['branch']} "
                "for a person to merge"
            )

    def _publish(self, summary: str) -> dict[str, Any]:
        git = self.git()
        git.run("add", "--all", what="git add")
        trailers = [
            f"Requested-by: {self.run.requested_by}",
            f"Autodev-Workflow: {self.run.template}-{runs.short_id(self.run.workflow_id)}",
        ]
        args = ["commit", "--quiet", "--no-verify", "-m", self._message(summary)]
        for trailer in trailers:
            args += ["--trailer", trailer]
        git.run(*args, what="git commit")
        commit = git.run("rev-parse", "HEAD", what="git rev-parse").stdout.strip()
        found: dict[str, Any] = {
            "repository": self.name,
            "branch": self.run.branch,
            "commit": commit,
            "parent": self.start_commit,
        }
        index = self._iteration()
        label = self.task.step_name or "a step"
        if index is not None:
            own = f"{self.run.branch}-item-{index + 1}"
            if self.task.attempts > 1:
                own += f"-attempt-{self.task.attempts}"
            self._push(commit, own)
            found["step_branch"] = own
        outcome = self._integrate(commit, label, found.get("step_branch"))
        found.update(outcome)
        return found

    def _push(self, commit: str, branch: str) -> bool:
        """Push ``commit`` to ``branch`` without force; False when refused because the
        branch has moved on (the caller merges and tries again)."""
        pushed = self.git().run(
            "push",
            "--porcelain",
            "origin",
            f"{commit}:refs/heads/{_check_branch(branch)}",
            what=f"pushing {branch}",
            check=False,
        )
        if pushed.returncode == 0:
            return True
        rejected = any(
            line.startswith("!") and ("fetch first" in line or "non-fast-forward" in line)
            for line in pushed.stdout.splitlines()
        )
        # Another push moved the branch between the server's answer of where it was and this
        # update (two iterations publishing at the same moment): the server's compare-and-swap
        # refuses it ("cannot lock ref ...: is at X but expected Y"). It has moved on, as above;
        # failing here would run the whole step again.
        said = pushed.stdout + pushed.stderr  # a hosted server may give it as the reason
        raced = "cannot lock ref" in said and "but expected" in said
        if rejected or raced:
            return False
        raise self.git().failure(f"pushing {branch}", pushed.stderr or pushed.stdout)

    def _integrate(self, commit: str, label: str, step_branch: str | None) -> dict[str, Any]:
        """Bring ``commit`` onto the workflow's branch: pushed when it descends from the
        branch, else merged (no conflict) and pushed; a conflict is reported and changes
        nothing."""
        git, branch = self.git(), self.run.branch
        head, merged = commit, False
        for _ in range(_PUSH_ATTEMPTS):
            if self._push(head, branch):
                runs.record_push(self.run.workflow_id, head)
                return {"commit": head, "merge": "merged" if merged else "pushed"}
            git.run(
                "fetch",
                "--quiet",
                "--no-tags",
                "origin",
                f"refs/heads/{branch}",
                what=f"fetching {branch}",
            )
            tip = git.run("rev-parse", "FETCH_HEAD", what="git rev-parse").stdout.strip()
            contains = git.run("merge-base", "--is-ancestor", commit, tip, check=False)
            if contains.returncode == 0:  # an earlier attempt of this step merged it already
                return {"commit": tip, "merge": "already merged"}
            tree = git.run(
                "merge-tree",
                "--write-tree",
                "--name-only",
                "--no-messages",
                tip,
                commit,
                check=False,
            )
            if tree.returncode == 1:
                files = tuple(line for line in tree.stdout.splitlines()[1:] if line.strip())
                if step_branch is None:  # keep the step's changes where a person finds them
                    step_branch = f"{branch}-conflict-{commit[:8]}"
                    self._push(commit, step_branch)
                conflict = Conflict(label, step_branch, files)
                runs.record_conflict(self.run.workflow_id, conflict)
                return {"merge": "conflict", "conflict": conflict.to_json()}
            if tree.returncode != 0:
                raise git.failure("merging", tree.stderr)
            merge = git.run(
                "commit-tree",
                tree.stdout.splitlines()[0].strip(),
                "-p",
                tip,
                "-p",
                commit,
                "-m",
                f"Merge {label} into {branch}\n\nRequested-by: {self.run.requested_by}\n",
                what="git commit-tree",
            ).stdout.strip()
            head, merged = merge, True
        raise RepositoryError(
            f"repository {self.name}: {branch} kept moving; gave up after {_PUSH_ATTEMPTS} merges"
        )

    def close(self) -> None:
        shutil.rmtree(self.private, ignore_errors=True)
