"""Progress on real Postgres, with live status messages sent to the real local Slack sink."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from autodev import progress
from autodev.errors import InvalidInput, NotFound
from autodev.local.slack.sink import SlackSink
from autodev.local.testing import point_slack_at
from autodev.progress import ManualClock, Metrics, slack_updates

STAGES = [
    {"name": "Setup", "weight": 1},
    {"name": "Analysis", "weight": 3},
    {"name": "Report", "weight": 1},
]


@pytest.fixture
def sink(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackSink]:
    with SlackSink() as running:
        yield point_slack_at(running, monkeypatch)


def test_percent_stages_and_metrics(database: str) -> None:
    clock = ManualClock()
    progress.start_tracking("t-1", "analysis", STAGES, clock=clock)
    state = progress.update_progress("t-1", 50, "Reading triggers", {"messages": 3}, clock=clock)
    assert state.percent == pytest.approx(10.0)  # half of a weight-1 stage out of 5
    state = progress.update_progress("t-1", 50, stage="Analysis", clock=clock)
    assert state.stage == "Analysis"
    assert state.percent == pytest.approx(50.0)  # Setup done (1) + half of Analysis (1.5) of 5
    assert state.status_message == "Reading triggers"
    assert state.metrics.messages == 3
    state = progress.update_progress("t-1", metrics={"tokens": 1200, "cost_usd": 0.02}, clock=clock)
    assert state.metrics == Metrics(messages=3, tokens=1200, cost_usd=0.02)
    done = progress.complete("t-1", clock=clock)
    assert done.percent == 100.0
    assert done.status == "completed"
    # A late update after completion changes nothing.
    assert progress.update_progress("t-1", 10, clock=clock).percent == 100.0
    read = progress.get_progress("t-1")
    assert read is not None
    assert read.status == "completed"


def test_bad_input_changes_nothing(database: str) -> None:
    clock = ManualClock()
    progress.start_tracking("t-2", "analysis", STAGES, clock=clock)
    progress.update_progress("t-2", 20, clock=clock)
    with pytest.raises(InvalidInput):
        progress.update_progress("t-2", 150, clock=clock)
    with pytest.raises(InvalidInput):
        progress.update_progress("t-2", 10, stage="Nope", clock=clock)
    with pytest.raises(InvalidInput):
        progress.update_progress("t-2", 10, metrics={"bogus": 1}, clock=clock)
    state = progress.get_progress("t-2")
    assert state is not None
    assert state.percent == pytest.approx(4.0)
    with pytest.raises(NotFound):
        progress.update_progress("nobody", 10)


def test_eta_through_postgres_lands_within_ten_percent_by_halfway(database: str) -> None:
    clock = ManualClock()
    progress.start_tracking("t-eta", "analysis", STAGES, clock=clock)
    assert progress.get_progress("t-eta").eta_seconds is None  # type: ignore[union-attr]
    # 1000 s of work; stage durations proportional to weights; an update every 4 s.
    durations = {"Setup": 200.0, "Analysis": 600.0, "Report": 200.0}
    elapsed, start = 0.0, 0.0
    state = None
    for name, duration in durations.items():
        t = 0.0
        while t < duration and elapsed < 500.0:
            t += 4.0
            elapsed += 4.0
            clock.advance(4.0)
            state = progress.update_progress(
                "t-eta", min(100.0, 100.0 * t / duration), stage=name, clock=clock
            )
        start += duration
        if elapsed >= 500.0:
            break
    assert state is not None
    assert state.percent == pytest.approx(50.0)
    assert state.eta_seconds is not None
    assert abs(state.eta_seconds - 500.0) <= 50.0


def test_workflow_rolls_up_its_steps(database: str) -> None:
    clock = ManualClock()
    steps = [{"name": "analyze", "weight": 1}, {"name": "fix", "weight": 3}]
    progress.start_tracking("wf-1", "bug-fix", steps, kind="workflow", clock=clock)
    progress.start_tracking("a", "analysis", workflow_id="wf-1", step_name="analyze", clock=clock)
    progress.update_progress("a", 50, "looking", {"tokens": 100}, clock=clock)
    workflow = progress.get_progress("wf-1")
    assert workflow is not None
    assert workflow.percent == pytest.approx(12.5)
    assert workflow.status_message == "analyze: looking"
    progress.complete("a", metrics={"tokens": 150, "cost_usd": 0.5}, clock=clock)
    progress.start_tracking("f", "fix", workflow_id="wf-1", step_name="fix", clock=clock)
    progress.update_progress("f", 50, metrics={"tokens": 50, "files_modified": 2}, clock=clock)
    workflow = progress.get_progress("wf-1")
    assert workflow is not None
    assert workflow.percent == pytest.approx(62.5)
    assert workflow.metrics.tokens == 200
    assert workflow.metrics.files_modified == 2
    assert workflow.metrics.cost_usd == pytest.approx(0.5)
    assert [s.status for s in workflow.stages] == ["done", "running"]
    assert [s.id for s in progress.workflow_steps("wf-1")] == ["a", "f"]


def test_two_hundred_updates_in_a_second_make_at_most_two_edits(sink: SlackSink) -> None:
    clock = ManualClock()
    progress.start_tracking(
        "wf-s", "bug-fix", STAGES, slack_channel="C1", slack_thread_ts="1.0", clock=clock
    )
    posts = sink.calls("chat.postMessage")
    assert len(posts) == 1
    assert posts[0].thread_ts == "1.0"
    clock.advance(5.0)
    for i in range(1, 201):
        progress.update_progress("wf-s", i / 2, f"update {i}", {"tool_calls": i}, clock=clock)
        clock.advance(0.005)  # 200 updates spread over one second
    assert slack_updates.flush_until_sent("wf-s", clock=clock)
    edits = sink.calls("chat.update")
    assert 1 <= len(edits) <= 2
    final = edits[-1]
    assert "update 200" in final.block_text()
    assert "200 tool calls" in final.block_text()
    message = sink.messages("C1")[0]
    assert "update 200" in str(message["blocks"])


def test_slack_429_is_waited_out_not_dropped(sink: SlackSink) -> None:
    clock = ManualClock()
    progress.start_tracking("wf-r", "bug-fix", STAGES, slack_channel="C2", clock=clock)
    clock.advance(5.0)
    sink.fail_next(1, status=429, retry_after=3, method="chat.update")
    progress.update_progress("wf-r", 10, "first", clock=clock)
    assert [c.status for c in sink.calls("chat.update")] == [429]
    clock.advance(1.5)
    progress.update_progress("wf-r", 20, "second", clock=clock)
    slack_updates.flush_due(clock=clock)
    assert len(sink.calls("chat.update")) == 1  # still inside Retry-After: nothing sent
    row = slack_updates.message_state("wf-r")
    assert row is not None
    assert "rate limited" in row["last_error"]
    clock.advance(1.5)  # 3 s after the 429
    assert slack_updates.flush_due(clock=clock) == 1
    calls = sink.calls("chat.update")
    assert [c.status for c in calls] == [429, 200]
    assert "second" in calls[-1].block_text()


def test_completion_delivers_the_final_state(sink: SlackSink) -> None:
    clock = ManualClock()
    progress.start_tracking("wf-c", "bug-fix", STAGES, slack_channel="C3", clock=clock)
    clock.advance(0.1)
    progress.update_progress("wf-c", 50, "half", clock=clock)  # too soon after the post
    progress.complete("wf-c", status_message="all done", clock=clock)  # waits out the second
    message = sink.messages("C3")[0]
    assert "all done" in str(message["blocks"])
    assert "Completed" in message["text"]


def test_the_final_state_waits_for_another_senders_claim_only_while_it_lasts(
    sink: SlackSink,
) -> None:
    """Another sender (the background flusher, another process) holds the message while it
    sends; once it lets go, the final state goes out, not when its claim would expire."""
    from autodev.db import connection

    clock = ManualClock()
    progress.start_tracking("wf-cl", "bug-fix", STAGES, slack_channel="C4", clock=clock)
    clock.advance(5.0)
    progress.update_progress("wf-cl", 50, "half", clock=clock)  # sent at once
    progress.update_progress("wf-cl", 60, "more", clock=clock)  # pending: too soon after
    with connection() as conn:
        conn.execute(
            "UPDATE slack_status_messages SET claimed_by = 'another-sender',"
            " claim_expires_at = %s WHERE key = 'wf-cl'",
            (clock.now() + slack_updates.CLAIM_SECONDS,),
        )

    class ReleasingClock(ManualClock):
        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            with connection() as conn:  # the other sender is done meanwhile
                conn.execute(
                    "UPDATE slack_status_messages SET claimed_by = NULL,"
                    " claim_expires_at = NULL WHERE key = 'wf-cl'"
                )

    waiting = ReleasingClock(clock.now())
    assert slack_updates.flush_until_sent("wf-cl", clock=waiting)
    assert waiting.now() - clock.now() < slack_updates.CLAIM_SECONDS / 10
    assert "more" in sink.calls("chat.update")[-1].block_text()


def test_the_background_sender_stops_when_told_and_what_it_left_is_sent_later(
    sink: SlackSink,
) -> None:
    """A process about to let go of its database stops its sender (the local stack, a test's
    teardown); left running, it would read the settings again and start an embedded Postgres.
    What it had not sent stays pending, and the next sender sends it."""
    from autodev.db import connection
    from autodev.local.testing import wait_for

    progress.start_tracking("wf-stop", "bug-fix", STAGES, slack_channel="C5")
    progress.update_progress("wf-stop", 50, "half")  # sent at once
    with connection() as conn:  # another sender holds the message for a while
        conn.execute(
            "UPDATE slack_status_messages SET claimed_by = 'another-sender',"
            " claim_expires_at = extract(epoch FROM now()) + 30 WHERE key = 'wf-stop'"
        )
    progress.update_progress("wf-stop", 60, "more")  # pending: the background sender waits
    senders = [t for t in threading.enumerate() if t.name == "autodev-status-flusher"]
    assert senders

    assert slack_updates.stop_background_flusher(timeout=10)
    assert not any(sender.is_alive() for sender in senders)
    assert slack_updates.pending_keys(["wf-stop"]) == ["wf-stop"]

    with connection() as conn:  # the other sender is done
        conn.execute(
            "UPDATE slack_status_messages SET claimed_by = NULL, claim_expires_at = NULL"
            " WHERE key = 'wf-stop'"
        )
    slack_updates.ensure_background_flusher()
    wait_for(
        lambda: any("more" in call.block_text() for call in sink.calls("chat.update")),
        timeout=30,
        what="the pending state sent by a new sender",
    )
    assert slack_updates.stop_background_flusher(timeout=10)


def test_map_iterations_count_toward_their_planned_step(database: str) -> None:
    # enqueue_task names Map iterations "<state> #<n>"; they fill the planned stage.
    clock = ManualClock()
    steps = [{"name": "Analyse code", "weight": 1}, {"name": "Implement fix", "weight": 1}]
    progress.start_tracking("wf-map", "full-analysis-improvement", steps, kind="workflow")
    task = [{"name": "Workspace", "weight": 1}, {"name": "Working", "weight": 1}]
    for n in (1, 2):
        progress.start_tracking(
            f"i{n}", "fix", task, workflow_id="wf-map", step_name=f"Implement fix #{n}"
        )
    progress.complete("i1", clock=clock)
    progress.update_progress("i2", 50, stage=1, clock=clock)  # Workspace done, Working half
    workflow = progress.get_progress("wf-map")
    assert workflow is not None
    assert [s.name for s in workflow.stages] == ["Analyse code", "Implement fix"]
    implement = workflow.stages[1]
    assert implement.status == "running"
    assert implement.progress == pytest.approx((100.0 + 75.0) / 2)
    progress.complete("i2", clock=clock)
    workflow = progress.get_progress("wf-map")
    assert workflow is not None
    assert workflow.stages[1].status == "done"
    assert workflow.percent == pytest.approx(50.0)


def test_a_workflow_adopts_its_status_card_as_the_status_message(sink: SlackSink) -> None:
    from autodev.slack.client import web_client

    clock = ManualClock()
    card = web_client().chat_postMessage(channel="C4", text="Starting bug-fix…")
    progress.start_tracking(
        "0b7e8a44-0000-4000-8000-00000000000a",
        "bug-fix",
        STAGES,
        kind="workflow",
        slack_channel="C4",
        slack_thread_ts=card["ts"],
        slack_message_ts=card["ts"],
        clock=clock,
    )
    # Edited in place: no second message, and the card carries the workflow's buttons.
    assert len(sink.calls("chat.postMessage")) == 1
    [edit] = sink.calls("chat.update")
    assert edit.ts == card["ts"]
    assert "workflow_cancel" in str(edit.args["blocks"])
    clock.advance(2.0)
    progress.complete("0b7e8a44-0000-4000-8000-00000000000a", status="failed", clock=clock)
    [message] = sink.messages("C4")
    assert "Failed" in message["text"]
    assert "workflow_retry" in str(message["blocks"])
    assert "workflow_cancel" not in str(message["blocks"])
