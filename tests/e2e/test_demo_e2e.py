"""`autodev demo` end to end: both workflows on the local stack, worker processes started by
the scaler, the real Claude Code CLI on the scripted model server, a copy of examples/."""

from __future__ import annotations

from pathlib import Path

import pytest

from autodev.config import get_settings
from autodev.db import connection
from autodev.orchestrator.launchers import LocalProcessLauncher
from autodev.orchestrator.workspace import REPO_ROOT

pytestmark = pytest.mark.e2e

TRIGGER = "force-app/main/default/triggers/AccountTrigger.trigger"


def test_demo_runs_code_review_and_bug_fix_with_real_claude_code(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from autodev.cli.demo import run_demo

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "5000")
    get_settings.cache_clear()
    original = (REPO_ROOT / "examples" / TRIGGER).read_text()

    statuses = run_demo(timeout_seconds=150)

    assert sorted((s.template, s.status) for s in statuses) == [
        ("bug-fix", "succeeded"),
        ("code-review", "succeeded"),
    ], [(s.template, s.status, s.cause) for s in statuses]
    printed = capsys.readouterr().out
    assert printed.count("model: SCRIPTED") == 2  # said at the start and at the end
    assert "+    insert primaries;" in printed  # the bug-fix edit is shown as a diff
    assert "3 agent steps and 1 tool step(s) (no model)" in printed  # bug-fix: Apex tests
    # It ends with the branch pushed to the demo's bare repository and the pull request the
    # stand-in host recorded, whose head is that branch.
    bug_fix = next(s for s in statuses if s.template == "bug-fix")
    branch = f"autodev/bug-fix/{bug_fix.id.replace('-', '')[:8]}"
    assert f"branch: {branch} pushed to repository examples" in printed
    assert f"recorded by the local stand-in host: {branch} -> main" in printed

    with connection() as conn:
        tasks = conn.execute(
            "SELECT t.step_name, t.status, t.result, t.model, t.model_provider, t.cost_usd, "
            "t.input_tokens, t.output_tokens, t.cache_read_tokens, w.template, "
            "t.context ? 'tool' AS is_tool "
            "FROM autonomous_tasks t JOIN workflows w ON w.id = t.workflow_id"
        ).fetchall()
    tools = [t for t in tasks if t["is_tool"]]
    tasks = [t for t in tasks if not t["is_tool"]]
    assert len(tasks) == 8  # 5 code-review agent steps, 3 bug-fix agent steps
    for task in tasks:
        assert task["status"] == "succeeded"
        assert task["model_provider"] == "scripted"
        assert task["model"] == get_settings().autodev_model
        assert task["result"]["summary"].startswith("[scripted model]")
        assert task["cost_usd"] > 0
        assert task["input_tokens"] > 0
        assert task["output_tokens"] > 0
    # Sessions of more than one turn read their prompt prefix from the cache.
    assert all(t["cache_read_tokens"] > 0 for t in tasks if t["result"]["turns"] > 1)

    fix = next(t for t in tasks if t["step_name"] == "Implement the fix")
    assert fix["result"]["files_changed"] == [TRIGGER]
    edited = (Path(fix["result"]["workspace"]) / TRIGGER).read_text()
    assert "'Technology'.equals(acc.Industry)" in edited  # a real edit, on disk
    assert "acc.Industry.equals(" not in edited
    assert (REPO_ROOT / "examples" / TRIGGER).read_text() == original  # only the copy changed
    # The fix is verified by the Apex tests (the stand-in sf), not by a model's word: the test
    # that failed on the original trigger passes on the fixed one.
    verify = next(t for t in tools if t["step_name"] == "Verify the fix")
    assert verify["model_provider"] == "tool"
    assert verify["result"]["tool"] == "apex_tests"
    assert verify["result"]["passed"] is True
    assert verify["result"]["failing"] == 0 < verify["result"]["tests_ran"]
    security = next(t for t in tasks if t["step_name"] == "Security review")
    assert [f["rule"] for f in security["result"]["findings"]] == ["missing-sharing"]

    # The stack stopped its workers when it stopped.
    assert LocalProcessLauncher(get_settings()).running() == 0
