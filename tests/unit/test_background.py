"""``autodev.background.started``: a call running beside the caller, its outcome kept."""

from __future__ import annotations

import threading

import pytest

from autodev.background import started


def test_the_call_runs_in_a_thread_of_its_own_and_gives_its_result() -> None:
    called_in = started("budget", lambda: threading.current_thread().name).result(timeout=10)
    assert called_in.startswith("budget")
    assert called_in != threading.current_thread().name


def test_what_the_call_raised_is_raised_where_the_result_is_taken() -> None:
    def fails(reason: str) -> None:
        raise ValueError(reason)

    future = started("failing", fails, "no budget row")
    with pytest.raises(ValueError, match="no budget row"):
        future.result(timeout=10)
