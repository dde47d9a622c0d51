"""Repositories in Slack: ``/workflow repos`` lists them, and ``/workflow start`` with an
unknown ``repo=`` is answered with the known ones and starts nothing (signed requests through
the real handlers and the Slack worker, answers recorded by the local Slack sink)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autodev.db import connection
from autodev.local.git_host import make_bare_repository
from autodev.local.slack.sender import SlackSender
from autodev.local.slack.sink import RecordedCall, SlackSink
from autodev.local.stack import LocalStack
from autodev.local.testing import wait_for
from autodev.orchestrator.workspace import REPO_ROOT
from autodev.repos import add_repository

SECRET = "test-signing-secret-repos-0123456789"


@pytest.fixture
def slack_env(
    local_stack: LocalStack, slack_sink: SlackSink, monkeypatch: pytest.MonkeyPatch
) -> SlackSink:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    return slack_sink


def _answer(sink: SlackSink, key: str) -> RecordedCall:
    found: RecordedCall = wait_for(
        lambda: next((c for c in sink.calls("response_url") if c.key == key), None),
        timeout=30,
        what=f"the answer to {key}",
    )
    return found


def test_workflow_repos_lists_them_and_an_unknown_repo_is_answered_with_the_known_ones(
    slack_env: SlackSink, tmp_path: Path
) -> None:
    bare = make_bare_repository(tmp_path / "app.git", REPO_ROOT / "examples")
    add_repository("sales-app", str(bare), added_by="U1", default=True)
    sender = SlackSender(SECRET, response_url_base=slack_env.url)

    listed, list_key = sender.command("/workflow repos")
    started, start_key = sender.command("/workflow start bug-fix repo=nope NPE on bulk insert")

    assert (listed.status, started.status) == (200, 200)
    shown = _answer(slack_env, list_key).block_text()
    assert "*sales-app*" in shown
    assert "*default*" in shown
    refused = _answer(slack_env, start_key)
    assert "no repository 'nope'; the repositories are: sales-app" in refused.text
    with connection() as conn:
        row = conn.execute("SELECT count(*) AS n FROM workflows").fetchone()
    assert row is not None
    assert row["n"] == 0
