"""How a worker contains its agent: a user of its own, its workspace only, and no survivors.

Claude Code runs whatever tools a step allows, in a repository someone else wrote, so it is
treated as untrusted. When the worker runs as root (in its container, on the local stack as
root, in CI) every session runs as an unprivileged uid of its own:

- It cannot read the worker's process (``/proc/<pid>/environ``: the database URL, the model
  key, AWS credentials), the worker's files (the local stack's secrets, logs, database) or
  other tasks' workspaces: none of them belong to its uid.
- It writes only where its uid may: the workspace's ``repo/`` and ``home/``, which are handed
  to it for the session and taken back after (the repository's ``.git`` stays the worker's, so
  nothing the agent writes changes what the worker's own git runs). The rest of the machine
  is not its to write, apart from the system's world-writable temporary directories.
- Each worker takes one uid from ``AUTODEV_AGENT_USER`` (``agent_users``: a user, or a range) and
  holds a lock on it while it lives, so two workers' agents never share a uid and cannot read
  or signal each other.
- Ending a session ends every process of that uid, including what Claude Code started in
  sessions of their own; and an agent guard (``agent_guard``) does the same the moment the
  worker dies, however it dies.

A worker that is not root cannot switch users. The agent then runs as the worker's own user
and can reach what the worker can; the worker says so in a warning when it starts its first
session.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from autodev.config import Settings
from autodev.observability import child_logger
from autodev.orchestrator.agent_users import (
    AgentUser,
    ContainmentError,
    candidate_users,
    take_free,
)

log = child_logger(__name__)

GUARD_SCRIPT = Path(__file__).with_name("agent_guard.py")
# util-linux's setpriv (in every Debian-based image, the worker's included): switches to the
# agent's user in the process that then becomes the CLI (``Containment.command``).
SETPRIV = "setpriv"
# The agent's files are its own; the worker reads them as root after taking them back.
AGENT_UMASK = 0o077
_KILL_ROUNDS = 50


def processes_of(uid: int) -> list[Any]:
    """The live (not zombie) processes whose real uid is ``uid``."""
    import psutil

    found = []
    for process in psutil.process_iter(["uids", "status"]):
        uids = process.info.get("uids")
        if uids is not None and uids.real == uid and process.info["status"] != "zombie":
            found.append(process)
    return found


def signal_user(uid: int, signum: int) -> None:
    """Send ``signum`` to every process of ``uid``; for SIGKILL, until none is left."""
    import psutil

    for _ in range(_KILL_ROUNDS):
        found = processes_of(uid)
        if not found:
            return
        for process in found:
            with contextlib.suppress(psutil.Error):
                process.send_signal(signum)
        if signum != signal.SIGKILL:
            return
        psutil.wait_procs(found, timeout=1)
    log.warning("processes of agent uid %s survived %s rounds of SIGKILL", uid, _KILL_ROUNDS)


def kill_tree(process: subprocess.Popen[bytes], grace: float) -> None:
    """End a session that runs as the worker's own user: SIGTERM, then SIGKILL after ``grace``.

    Claude Code runs each Bash command in a session of its own, so the process group is not
    enough: the tree is taken from the process table before anything is signalled (once the
    CLI is gone its children are re-parented and can no longer be found from it).
    """
    import psutil

    try:
        root = psutil.Process(process.pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    for member in tree:
        with contextlib.suppress(psutil.Error):
            member.terminate()
    _, alive = psutil.wait_procs(tree, timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    for member in alive:
        with contextlib.suppress(psutil.Error):
            member.kill()
    psutil.wait_procs(alive, timeout=5)


def _walk(top: Path, skip: frozenset[str] = frozenset()) -> Iterator[Path]:
    """``top`` and everything under it, symbolic links as themselves (never followed)."""
    yield top
    for directory, dirnames, filenames in os.walk(top):
        if Path(directory) == top:
            dirnames[:] = [name for name in dirnames if name not in skip]
            filenames = [name for name in filenames if name not in skip]
        for name in (*dirnames, *filenames):
            yield Path(directory, name)


def _chown_tree(top: Path, uid: int, gid: int, skip: frozenset[str] = frozenset()) -> None:
    for path in _walk(top, skip):
        with contextlib.suppress(FileNotFoundError):
            os.lchown(path, uid, gid)


def unreachable_part(path: Path, user: AgentUser) -> Path | None:
    """The first directory on the way to ``path`` that ``user`` may not pass, if any."""
    for directory in [*reversed(path.parents), path]:
        info = directory.stat()
        if info.st_uid == user.uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid == user.gid:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return directory
    return None


class _Guard:
    """The worker's end of the agent guard: a pipe only the worker writes to, and its answers."""

    def __init__(self, user: AgentUser | None, lock: int | None) -> None:
        args = [str(user.uid), str(user.gid)] if user else ["-", "-"]
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", str(GUARD_SCRIPT), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            pass_fds=(lock,) if lock is not None else (),
            start_new_session=True,
        )
        self._lock = threading.Lock()

    def tell(self, word: str, number: int) -> bool:
        with self._lock:
            return self._send(word, number)

    def _send(self, word: str, number: int) -> bool:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(f"{word} {number}\n".encode())
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            return False
        return True

    def kill(self, signum: int, timeout: float = 10.0) -> bool:
        """Have the guard signal every process of the agent's uid; False if it did not answer."""
        assert self.process.stdout is not None
        descriptor = self.process.stdout.fileno()
        with self._lock:
            if not self._send("kill", signum):
                return False
            answer = b""
            deadline = time.monotonic() + timeout
            while not answer.endswith(b"\n"):
                ready, _, _ = select.select([descriptor], [], [], deadline - time.monotonic())
                chunk = os.read(descriptor, 64) if ready else b""
                if not chunk:
                    return False
                answer += chunk
            return answer == b"killed\n"

    def close(self) -> None:
        with self._lock, contextlib.suppress(BrokenPipeError, ValueError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


class Containment:
    """One worker's containment of its agent sessions: its agent user, lock and guard."""

    def __init__(self, user: AgentUser | None, lock: int | None = None) -> None:
        self.user = user
        self._lock = lock
        self._guard = _Guard(user, lock)
        self._setpriv = shutil.which(SETPRIV) if user is not None else None

    @classmethod
    def for_worker(cls, settings: Settings) -> Containment:
        """Take an agent user (root) or warn that the agent runs as the worker (not root)."""
        worker_uid = os.geteuid()
        if worker_uid != 0:
            log.warning(
                "the worker runs as uid %s, not root, so it cannot start Claude Code as a user "
                "of its own: the agent runs as the worker's user and can read what the worker "
                "can (its environment, files and credentials). Run the worker as root (its "
                "container does) to contain the agent.",
                worker_uid,
            )
            return cls(None)
        user, lock = take_free(candidate_users(settings.autodev_agent_user, worker_uid))
        containment = cls(user, lock)
        # A worker that held this uid before may have died before its guard could act.
        containment.signal(signal.SIGKILL)
        containment.reclaim_orphans(settings.workspace_root)
        log.info("agent sessions run as %s (gid %s)", user.name, user.gid)
        return containment

    @property
    def contained(self) -> bool:
        return self.user is not None

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` as the agent's user runs it (started with ``popen_options``): through
        setpriv, which takes the agent's uid and gid with no supplementary groups, then execs
        ``argv``. Python's own switch (``Popen(user=...)``) makes it fork the worker instead of
        vforking it, copying the page tables of a 100 MB process for every session: 16 ms
        against 1.2 (measured) before the CLI even starts. Without setpriv, Popen switches."""
        if self.user is None or self._setpriv is None:
            return list(argv)
        return [
            self._setpriv,
            f"--reuid={self.user.uid}",
            f"--regid={self.user.gid}",
            "--clear-groups",
            "--",
            *argv,
        ]

    def popen_options(self) -> dict[str, Any]:
        """How to start ``command``'s command line: its files private to the agent, and, where
        there is no setpriv, as the agent user with no supplementary groups."""
        if self.user is None:
            return {}
        if self._setpriv is not None:
            return {"umask": AGENT_UMASK}
        return {
            "user": self.user.uid,
            "group": self.user.gid,
            "extra_groups": [],
            "umask": AGENT_UMASK,
        }

    # --- the workspace ---

    def hand_over(self, root: Path, workspace: Path, repo: Path, home: Path) -> None:
        """Give the agent its workspace's ``repo/`` (but not ``.git``) and ``home/``."""
        if self.user is None:
            return
        for directory in (root, workspace):
            # Passable, not listable: an agent finds its own workspace, not the others.
            os.chmod(directory, 0o711)  # noqa: S103
        blocked = unreachable_part(repo, self.user)
        if blocked is not None:
            raise ContainmentError(
                f"the agent's user ({self.user.name}) cannot reach its workspace {repo}: "
                f"{blocked} is not searchable by it; set AUTODEV_WORKSPACE_DIR to a directory "
                "whose parents others may pass through"
            )
        _chown_tree(repo, self.user.uid, self.user.gid, skip=frozenset({".git"}))
        _chown_tree(home, self.user.uid, self.user.gid)
        for directory in (repo, home):
            os.chmod(directory, 0o700)

    def take_back(self, repo: Path, home: Path) -> None:
        """Make the workspace the worker's again (after every agent process has ended)."""
        if self.user is None:
            return
        for top in (repo, home):
            if top.exists():
                _chown_tree(top, os.geteuid(), os.getegid())
                os.chmod(top, 0o700)

    def reclaim_orphans(self, root: Path) -> None:
        """Take back the workspaces a dead worker left to this uid (never taken back)."""
        if self.user is None or not root.is_dir():
            return
        for workspace in root.iterdir():
            for part in (workspace / "repo", workspace / "home"):
                with contextlib.suppress(OSError):
                    if part.lstat().st_uid == self.user.uid:
                        self.take_back(workspace / "repo", workspace / "home")
                        break

    # --- the session's processes ---

    def started(self, pid: int) -> None:
        if self._guard.process.poll() is not None:  # killed by someone: a session needs one
            log.warning(
                "the agent guard had ended (%s); starting another", self._guard.process.returncode
            )
            self._guard = _Guard(self.user, self._lock)
        self._guard.tell("watch", pid)

    def finished(self, pid: int) -> None:
        self._guard.tell("done", pid)

    def signal(self, signum: int) -> None:
        """Signal every process of the agent's user (through the guard: one ``kill(-1)``)."""
        if self.user is not None and not self._guard.kill(signum):
            log.warning("the agent guard did not answer; signalling uid %s itself", self.user.uid)
            signal_user(self.user.uid, signum)

    def stop(self, process: subprocess.Popen[bytes], grace: float) -> None:
        """End the session now: SIGTERM, and SIGKILL for what is left after ``grace``."""
        if self.user is None:
            kill_tree(process, grace)
        else:
            self.signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
            self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)

    def sweep(self) -> None:
        """Kill whatever the session left running (a background command), before the next."""
        self.signal(signal.SIGKILL)

    def close(self) -> None:
        self._guard.close()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
