"""``autodev.child_exit.ended_within``: a child's exit, seen when it happens or not at all."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from autodev.child_exit import ended_within

LINGERS = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture(params=["pidfd", "popen-wait"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of waiting: a pidfd (Linux) and, where there is none, Popen.wait."""
    if request.param == "popen-wait":

        def refused(pid: int) -> int:
            raise OSError("no pidfd here")

        monkeypatch.setattr(os, "pidfd_open", refused, raising=False)
    elif not hasattr(os, "pidfd_open"):
        pytest.skip("no pidfd on this platform")
    return str(request.param)


def test_an_exit_is_seen_and_the_child_reaped(way: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    assert ended_within(child, 60)
    assert child.returncode == 3


def test_a_child_still_running_is_not_taken_for_ended(way: str) -> None:
    child = subprocess.Popen(LINGERS)
    try:
        assert not ended_within(child, 0)
        assert not ended_within(child, 0.05)
        assert child.returncode is None
    finally:
        child.kill()
    assert ended_within(child, 60)
    assert child.returncode == -9
