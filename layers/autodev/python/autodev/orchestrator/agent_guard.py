"""The agent guard: ends a worker's agent sessions when the worker dies, however it dies.

Started once per worker (``python -I -S agent_guard.py UID GID``, standard library only, so it
starts in milliseconds), in a session of its own so that a signal to the worker's process
group does not reach it. It reads its stdin, a pipe whose only writer is the worker:

- ``watch PID`` / ``done PID``: a Claude Code CLI the worker started, and its end;
- ``kill SIGNAL``: send SIGNAL to every process of the agent's uid now (answered ``killed``
  on stdout): ``kill(-1)`` from a child that has become that uid, one call that reaches every
  process of the uid and that no fork can slip past;
- end of file: the worker is gone (exited, or killed with SIGKILL: the kernel closes the
  pipe either way). The guard then kills every process of the agent's uid, and the process
  trees of the CLIs still watched (the only way to find an agent that runs as the worker's own
  user), and exits.

The worker hands the guard its lock on the agent uid too, so the uid is not given to another
worker before the guard has killed what ran under it. UID ``-`` means the agents run as the
worker's own user.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

_KILL_ROUNDS = 20


def _children_by_parent() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses; split after it.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _tree(roots: set[int]) -> set[int]:
    """The processes in ``roots`` that are alive, and all their descendants."""
    children = _children_by_parent()
    found: set[int] = set()
    pending = [pid for pid in roots if os.path.exists(f"/proc/{pid}")]
    while pending:
        pid = pending.pop()
        if pid not in found:
            found.add(pid)
            pending.extend(children.get(pid, []))
    return found


def _kill_trees(roots: set[int]) -> None:
    """Stop the trees until no new member appears (a stopped process cannot fork), then kill."""
    stopped: set[int] = set()
    for _ in range(_KILL_ROUNDS):
        new = _tree(roots | stopped) - stopped
        if not new:
            break
        for pid in new:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGSTOP)
        stopped |= new
    for pid in stopped:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _kill_user(uid: int, gid: int, signum: int) -> None:
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            with contextlib.suppress(ProcessLookupError):  # no process of the uid is left
                os.kill(-1, signum)
        finally:
            os._exit(0)
    os.waitpid(child, 0)


def main(argv: list[str]) -> int:
    uid = None if argv[1] == "-" else int(argv[1])
    gid = int(argv[2]) if uid is not None else 0
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only the worker's end ends the guard
    watched: set[int] = set()
    for raw in sys.stdin.buffer:
        words = raw.decode(errors="replace").split()
        if len(words) != 2 or not words[1].isdigit():
            continue
        if words[0] == "watch":
            watched.add(int(words[1]))
        elif words[0] == "done":
            watched.discard(int(words[1]))
        elif words[0] == "kill":
            if uid is not None:
                _kill_user(uid, gid, int(words[1]))
            sys.stdout.write("killed\n")
            sys.stdout.flush()
    if watched:
        _kill_trees(watched)
    if uid is not None:
        _kill_user(uid, gid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
