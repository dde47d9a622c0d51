"""git as the worker runs it: a fixed identity, none of anyone's configuration, credentials
from a credential helper that exists only on the worker's own git command lines.

The credential helper is a shell function given with ``-c credential.helper=...`` to the git
commands the worker runs (fetch and push); it prints the user name and token from two
variables set in the environment of those git processes only. So the token is in no file,
in no repository configuration, in no command line (``/proc/PID/cmdline`` is readable by any
user; ``/proc/PID/environ`` only by the same user), and never in the agent's environment: the
agent runs as another user, with an environment built from nothing.

Errors name the repository and quote git's own words, with any credential stripped
(``urls.redact``).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from autodev.child_exit import ended_within
from autodev.repos.credentials import GitCredential
from autodev.repos.models import RepositoryError, RepositoryTooLarge, ResolvedRef
from autodev.repos.urls import redact

_HELPER = (
    '!f() { test "$1" = get || exit 0; '
    'printf \'username=%s\\npassword=%s\\n\' "$AUTODEV_GIT_USERNAME" "$AUTODEV_GIT_PASSWORD"; }; f'
)
# Words of git's that mean the host refused the credential (or got none): not worth a retry.
_REFUSED = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "returned error: 401",
    "returned error: 403",
    "permission denied",
    "access denied",
)
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
_SIZE_POLL_SECONDS = 0.25
MIB = 1024 * 1024


def directory_bytes(*roots: Path) -> int:
    """The bytes of the files under ``roots`` (symbolic links not followed)."""
    total = 0
    stack = [root for root in roots if root.exists()]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                else:
                    total += entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue
    return total


class Git:
    """Runs git for one repository: in a git directory with a separate work tree, or none."""

    def __init__(
        self,
        repository: str,
        *,
        scratch: Path,
        git_dir: Path | None = None,
        work_tree: Path | None = None,
        credential: GitCredential | None = None,
        email: str = "autodev@localhost",
        protocols: str = "file",
    ) -> None:
        self.repository = repository
        self.scratch = scratch
        self.git_dir = git_dir
        self.work_tree = work_tree
        self.credential = credential
        self.email = email
        self.protocols = protocols

    # --- running ---

    def _argv(self, args: Sequence[str]) -> list[str]:
        argv = [
            "git",
            "-c",
            "user.name=autodev",
            "-c",
            f"user.email={self.email}",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "core.fsmonitor=false",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "advice.detachedHead=false",
            # A local repository's upload-pack runs with this configuration: let it serve
            # partial, by-commit fetches as a hosting service does.
            "-c",
            "uploadpack.allowFilter=true",
            "-c",
            "uploadpack.allowAnySHA1InWant=true",
            "-c",
            "protocol.file.allow=always",
            "-c",
            "credential.helper=",
        ]
        if self.credential is not None:
            argv += ["-c", f"credential.helper={_HELPER}", "-c", "credential.useHttpPath=false"]
        if self.git_dir is not None:
            argv.append(f"--git-dir={self.git_dir}")
        if self.work_tree is not None:
            argv.append(f"--work-tree={self.work_tree}")
        return [*argv, *args]

    def _env(self) -> dict[str, str]:
        home = self.scratch / "home"
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        env = {
            "PATH": os.environ.get("PATH") or _DEFAULT_PATH,
            "HOME": str(home),
            "LANG": "C",
            "LC_ALL": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            # Only the repository's own transport: no ext::, no ssh, no file:// for a hosted one.
            "GIT_ALLOW_PROTOCOL": self.protocols,
        }
        if self.credential is not None:
            env["AUTODEV_GIT_USERNAME"] = self.credential.username
            env["AUTODEV_GIT_PASSWORD"] = self.credential.token.get_secret_value()
        return env

    def _secrets(self) -> tuple[str, ...]:
        return (self.credential.token.get_secret_value(),) if self.credential else ()

    def failure(self, what: str, stderr: str) -> RepositoryError:
        lines = [line for line in redact(stderr, self._secrets()).splitlines() if line.strip()]
        detail = " ".join(line.strip() for line in lines[-4:])[:700] or "no message"
        refused = any(word in detail.lower() for word in _REFUSED)
        return RepositoryError(
            f"repository {self.repository}: {what} failed: {detail}", retryable=not refused
        )

    def run(
        self,
        *args: str,
        what: str | None = None,
        input: str | None = None,
        check: bool = True,
        timeout: float = 600,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        try:
            completed = subprocess.run(
                self._argv(args),
                input=input,
                capture_output=True,
                text=True,
                check=False,
                timeout=timeout,
                env=self._env(),
                cwd=cwd or self.scratch,
            )
        except subprocess.TimeoutExpired:
            raise RepositoryError(
                f"repository {self.repository}: git {args[0]} took longer than {timeout:g} s"
            ) from None
        if check and completed.returncode != 0:
            raise self.failure(what or f"git {args[0]}", completed.stderr)
        return completed

    def run_within(
        self, *args: str, what: str, limit_bytes: int, measure: Sequence[Path], timeout: float
    ) -> None:
        """Run git while the directories ``measure`` stay within ``limit_bytes``; stopped and
        refused (RepositoryTooLarge) as soon as they pass it."""
        process = subprocess.Popen(
            self._argv(args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=self._env(),
            cwd=self.scratch,
        )
        deadline = time.monotonic() + timeout
        try:
            while not ended_within(process, _SIZE_POLL_SECONDS):
                size = directory_bytes(*measure)
                if size > limit_bytes:
                    raise self.too_large(size, limit_bytes)
                if time.monotonic() > deadline:
                    raise RepositoryError(
                        f"repository {self.repository}: {what} took longer than {timeout:g} s"
                    )
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        stderr = process.stderr.read() if process.stderr else ""
        if process.returncode != 0:
            raise self.failure(what, stderr)
        size = directory_bytes(*measure)
        if size > limit_bytes:
            raise self.too_large(size, limit_bytes)

    def too_large(self, size: int, limit: int) -> RepositoryTooLarge:
        return RepositoryTooLarge(
            f"repository {self.repository}: the checkout passed the size limit of "
            f"{limit / MIB:g} MB (AUTODEV_REPO_MAX_MB) at {size / MIB:.1f} MB and was stopped; "
            "raise the limit, or work on a smaller repository"
        )


def resolve_local_ref(path: Path, ref: str, repository: str, scratch: Path) -> ResolvedRef | None:
    """The commit ``ref`` (branch, tag or commit) names in a local repository, and whether it
    is a branch; None when it names nothing there. A branch is tried first, so it is one when
    the first lookup finds it: one git process for a branch (every workflow start's ref)."""
    git_dir = path if (path / "HEAD").is_file() and (path / "objects").is_dir() else path / ".git"
    git = Git(repository, scratch=scratch, git_dir=git_dir)
    for candidate, is_branch in (
        (f"refs/heads/{ref}", True),
        (f"refs/tags/{ref}", False),
        (ref, False),
    ):
        found = git.run(
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"{candidate}^{{commit}}",
            check=False,
        )
        if found.returncode == 0 and found.stdout.strip():
            return ResolvedRef(found.stdout.strip(), is_branch)
    return None
