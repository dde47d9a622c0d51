import os, time
from datetime import datetime
import pytest
from autodev.config import get_settings
from autodev.db import connection
from autodev.local.slack.sender import SlackSender
from autodev.local.slack.services import GATEWAY_URL_ENV, SINK_URL_ENV
from autodev.local.slack.sink import RemoteSink
from autodev.orchestrator.launchers import LocalProcessLauncher
from tests.bench.bench_workflow_latency import (
    BUG_FIX,
    CHANNEL,
    SECRET,
    _history,
    _start,
    _workers_gone,
    stack,
)  # noqa


def _timeline(wid):
    events = _history(wid)
    t0 = events[0]["timestamp"]
    out = []
    for e in events:
        d = e.get("stateEnteredEventDetails") or e.get("stateExitedEventDetails") or {}
        out.append(((e["timestamp"] - t0).total_seconds(), e["type"], d.get("name", "")))
    with connection() as conn:
        rows = conn.execute(
            "select step_name, task_type, created_at, claimed_at, finished_at, result_published_at, outcome_sent_at, lease_owner from autonomous_tasks where workflow_id=%s order by created_at",
            (wid,),
        ).fetchall()
    for r in rows:
        for k in (
            "created_at",
            "claimed_at",
            "finished_at",
            "result_published_at",
            "outcome_sent_at",
        ):
            if r[k]:
                out.append(
                    ((r[k] - t0).total_seconds(), "task " + k, r["step_name"] or r["task_type"])
                )
    for t, typ, name in sorted(out):
        print(f"{t:7.3f} {typ:40} {name}")


def _timed(monkeypatch, module, name, log):
    orig = getattr(module, name)

    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return orig(*a, **k)
        finally:
            log.append((name, round(time.perf_counter() - t, 4)))

    monkeypatch.setattr(module, name, wrapper)


def test_timeline(stack, monkeypatch):
    import autodev.workflows.finish as fin

    log = []
    for n in ("finish_workflow", "_propose_changes", "deliver_outcome", "_to_conversation"):
        _timed(monkeypatch, fin, n, log)
    _timed(monkeypatch, fin.approvals, "send_cards", log)
    _timed(monkeypatch, fin.repos, "propose", log)
    sender = SlackSender(SECRET, os.environ[GATEWAY_URL_ENV], channel_id=CHANNEL)
    sink = RemoteSink(os.environ[SINK_URL_ENV])
    launcher = LocalProcessLauncher(get_settings())
    _workers_gone(launcher)
    for i in range(0):
        _workers_gone(launcher)
        sent, wid = _start(sender, sink, BUG_FIX)
        print("\n=== cold")
        _timeline(wid)
        events = _history(wid)
        t0 = events[0]["timestamp"].timestamp()
        print("command sent", round(sent - t0, 3))
        with connection() as conn:
            for r in conn.execute(
                "select started_at, last_seen_at from orchestrator_workers order by started_at desc limit 2"
            ).fetchall():
                print("worker started_at", round(r["started_at"].timestamp() - t0, 3))
            r = conn.execute("select created_at from workflows where id=%s", (wid,)).fetchone()
            print("workflow row", round(r["created_at"].timestamp() - t0, 3))
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "300000")
    get_settings.cache_clear()
    for i in range(1):
        print("\n=== warm")
        _timeline(_start(sender, sink, BUG_FIX)[1])
        print(log)
        log.clear()
