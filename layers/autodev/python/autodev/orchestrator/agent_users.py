"""The users agents run as: ``AUTODEV_AGENT_USER``, and one free uid for each worker.

``AUTODEV_AGENT_USER`` names a user, a uid, or a range of uids ``FIRST-LAST`` (uids with no
account are fine: nothing of the agent needs one). A worker takes the first uid of it that no
other worker on the machine holds, with an ``flock`` on a file of that uid in a directory only
root may use, and holds it while it lives (its agent guard holds it too, until it has killed
what ran under the uid); so two workers' agents never share a uid.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autodev.errors import AutodevError

# The locks that give each worker its own agent uid; root's, not the agents'.
LOCK_DIR_NAME = "autodev-agent-users"
_RANGE = re.compile(r"^(\d+)-(\d+)$")
_NO_LOGIN_SHELLS = frozenset({"nologin", "false"})


class ContainmentError(AutodevError):
    """The agent cannot be contained as configured (a bad user, no free uid, a workspace the
    agent's user cannot reach)."""


@dataclass(frozen=True)
class AgentUser:
    uid: int
    gid: int
    name: str


def candidate_users(spec: str, worker_uid: int) -> list[AgentUser]:
    """The users ``AUTODEV_AGENT_USER`` names: a user name, a uid, or a range ``FIRST-LAST``.

    Every process of an agent's user is ended after each session, so it must be a user of the
    agent's own: never root, the worker's user, or an account that can log in.
    """
    spec = spec.strip()
    matched = _RANGE.match(spec)
    uids: range | list[int]
    if matched:
        first, last = int(matched.group(1)), int(matched.group(2))
        if first > last or last - first > 100_000:
            raise ContainmentError(
                f"AUTODEV_AGENT_USER range {spec} is not valid: expected FIRST-LAST, FIRST <= "
                "LAST, at most 100000 uids"
            )
        uids = range(first, last + 1)
    elif spec.isdigit():
        uids = [int(spec)]
    else:
        try:
            uids = [pwd.getpwnam(spec).pw_uid]
        except KeyError:
            raise ContainmentError(
                f"AUTODEV_AGENT_USER names the user {spec!r}, which does not exist on this machine"
            ) from None
    accounts = {entry.pw_uid: entry for entry in pwd.getpwall() if entry.pw_uid in uids}
    users: list[AgentUser] = []
    for uid in uids:
        entry = accounts.get(uid)
        if uid in (0, worker_uid):
            raise ContainmentError(
                "AUTODEV_AGENT_USER must name an unprivileged user other than the worker's own "
                f"(got {spec})"
            )
        if entry is None:
            # A uid with no account: its own group number, which nothing else uses.
            users.append(AgentUser(uid, uid, f"uid {uid}"))
            continue
        if Path(entry.pw_shell).name not in _NO_LOGIN_SHELLS:
            raise ContainmentError(
                f"AUTODEV_AGENT_USER includes {entry.pw_name} (uid {uid}), an account that can "
                "log in: the agent needs a user of its own, as every process of it is ended "
                "after each session"
            )
        users.append(AgentUser(uid, entry.pw_gid, entry.pw_name))
    return users


def _lock_dir() -> Path:
    """A directory only this (root) user may use, for the uid locks of every worker here."""
    directory = Path(tempfile.gettempdir()) / LOCK_DIR_NAME
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700)
    info = directory.lstat()
    if (
        not stat.S_ISDIR(info.st_mode)
        or info.st_uid != os.geteuid()
        or stat.S_IMODE(info.st_mode) & 0o077
    ):
        raise ContainmentError(
            f"{directory} must be a directory of uid {os.geteuid()} that nobody else can use; "
            "remove it and start the worker again"
        )
    return directory


def take_free(users: list[AgentUser]) -> tuple[AgentUser, int]:
    directory = _lock_dir()
    for user in users:
        descriptor = os.open(
            directory / f"{user.uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600
        )
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            continue
        return user, descriptor
    raise ContainmentError(
        f"all {len(users)} agent user(s) of AUTODEV_AGENT_USER are taken by other workers on "
        "this machine; give it a larger range"
    )
