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


class ContainmentError(AutodevError):
    """The agent cannot be contained as configured (a bad user, no free uid, a workspace the
    agent's user cannot reach)."""


@dataclass(frozen=True)
class AgentUser:
    uid: int
    gid: int
    name: str


def candidate_users(spec: str, worker_uid: int) -> list[AgentUser]:
    """The users ``AUTODEV_AGENT_USER`` names: a user name, a uid, or a range ``FIRST-LAST``."""
    spec = spec.strip()
    users: list[AgentUser]
    matched = _RANGE.match(spec)
    if matched:
        first, last = int(matched.group(1)), int(matched.group(2))
        if first > last or last - first > 100_000:
            raise ContainmentError(
                f"AUTODEV_AGENT_USER range {spec} is not valid: expected FIRST-LAST, FIRST <= "
                "LAST, at most 100000 uids"
            )
        users = [AgentUser(uid, uid, f"uid {uid}") for uid in range(first, last + 1)]
    elif spec.isdigit():
        uid = int(spec)
        try:
            gid = pwd.getpwuid(uid).pw_gid
        except KeyError:
            gid = uid  # a uid with no account: its own group number, which nothing else uses
        users = [AgentUser(uid, gid, f"uid {uid}")]
    else:
        try:
            entry = pwd.getpwnam(spec)
        except KeyError:
            raise ContainmentError(
                f"AUTODEV_AGENT_USER names the user {spec!r}, which does not exist on this machine"
            ) from None
        users = [AgentUser(entry.pw_uid, entry.pw_gid, spec)]
    if any(user.uid in (0, worker_uid) for user in users):
        raise ContainmentError(
            "AUTODEV_AGENT_USER must name an unprivileged user other than the worker's own "
            f"(got {spec})"
        )
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
