"""Status message coalescing holds across processes: the budget lives in Postgres.

Two worker-like processes report progress for one workflow as fast as they can, with the
real clock. Every edit the Slack sink receives must be at least about a second after the
previous one, and the last edit must carry the final state.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator

import pytest

from autodev import progress
from autodev.local.slack.sink import SlackSink
from autodev.local.testing import point_slack_at
from autodev.progress import slack_updates

_WORKER = """
import sys, time
from autodev import progress
name, step = sys.argv[1], sys.argv[2]
progress.start_tracking(name, "analysis", workflow_id="wf-mp", step_name=step)
deadline = time.time() + 2.5
i = 0
while time.time() < deadline:
    i += 1
    progress.update_progress(name, min(99, i / 10), f"{name} update {i}")
progress.complete(name, status_message=f"{name} finished")
"""


@pytest.fixture
def sink(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackSink]:
    monkeypatch.delenv("AUTODEV_EVENT_BUS", raising=False)
    with SlackSink() as running:
        yield point_slack_at(running, monkeypatch)


def test_two_processes_share_one_edit_budget(sink: SlackSink) -> None:
    steps = [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]
    progress.start_tracking("wf-mp", "code-review", steps, kind="workflow", slack_channel="CMP")
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, name, name]) for name in ("a", "b")]
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    assert slack_updates.flush_until_sent("wf-mp")
    edits = [c for c in sink.calls("chat.update") if c.status == 200]
    assert edits, "no status edits were sent"
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(edits)]
    # The sender spaces edits by one second on its clock; arrival jitter is far below 0.1 s.
    assert all(gap >= 0.9 for gap in gaps), gaps
    final = sink.messages("CMP")[0]
    state = progress.get_progress("wf-mp")
    assert state is not None
    assert state.percent == pytest.approx(100.0)
    assert "100%" in final["text"]
