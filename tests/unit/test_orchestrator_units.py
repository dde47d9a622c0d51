"""Pure parts of the orchestrator and the model providers: no sockets, no database."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from autodev.config import ModelProvider, load_settings
from autodev.errors import InvalidInput
from autodev.local.model.apex_checks import check_source, fixed_source
from autodev.local.model.script import Script, ToolCall, Turn, script_from_json
from autodev.local.model.server import usage_for
from autodev.local.model.sessions import session_for, step_kind
from autodev.models import providers
from autodev.orchestrator import workspace
from autodev.orchestrator.claude_cli import base_tool_names
from autodev.orchestrator.scaler import MAX_EXPECTED, expected_tasks, workers_to_start
from autodev.orchestrator.session_monitor import SessionMonitor, final_json_object

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TRIGGER = "force-app/main/default/triggers/AccountTrigger.trigger"


# --- the scrubbed environment ---


def test_the_agent_environment_holds_only_what_the_provider_needs(tmp_path: Path) -> None:
    parent = {
        "PATH": "/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "DATABASE_URL": "postgresql://u:secret@db/x",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x",
        "SLACK_BOT_TOKEN": "xoxb-secret",
        "HOME": "/root",
    }
    settings = load_settings(
        autodev_model_provider="scripted", autodev_scripted_model_url="http://127.0.0.1:1"
    )
    env = providers.agent_environment(
        settings, home=tmp_path, parent_env=parent, task_id="t-1", workspace=tmp_path / "repo"
    )
    assert env["HOME"] == str(tmp_path)
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:1"
    assert env["ANTHROPIC_API_KEY"] == providers.SCRIPTED_API_KEY
    # The scripted server learns the task and its workspace from these request headers.
    assert env["ANTHROPIC_CUSTOM_HEADERS"].splitlines() == [
        "X-Autodev-Task-Id: t-1",
        f"X-Autodev-Workspace: {tmp_path / 'repo'}",
    ]
    assert not [name for name in env if name.startswith(("AWS_", "SLACK_", "DATABASE"))]
    assert "secret" not in json.dumps(env)


def test_the_scripted_provider_needs_its_server_url_and_says_which_setting(
    tmp_path: Path,
) -> None:
    settings = load_settings(autodev_model_provider="scripted")
    with pytest.raises(providers.ProviderUnavailable, match="AUTODEV_SCRIPTED_MODEL_URL"):
        providers.agent_environment(settings, home=tmp_path, parent_env={}, task_id="t-1")


def test_anthropic_passes_its_key_and_nothing_else_secret(tmp_path: Path) -> None:
    settings = load_settings(autodev_model_provider="anthropic", anthropic_api_key="sk-ant-1")
    env = providers.agent_environment(
        settings,
        home=tmp_path,
        parent_env={"AWS_SECRET_ACCESS_KEY": "x", "PATH": "/bin"},
        task_id="t-2",
        workspace=tmp_path,
    )
    assert env["ANTHROPIC_API_KEY"] == "sk-ant-1"
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert "ANTHROPIC_BASE_URL" not in env
    # A real provider gets the task id (for cost attribution at a gateway), not local paths.
    assert env["ANTHROPIC_CUSTOM_HEADERS"] == "X-Autodev-Task-Id: t-2"
    with pytest.raises(providers.ProviderUnavailable, match="ANTHROPIC_API_KEY"):
        providers.agent_environment(
            load_settings(autodev_model_provider="anthropic"), home=tmp_path, parent_env={}
        )


def test_bedrock_passes_region_and_bedrock_credentials_only(tmp_path: Path) -> None:
    settings = load_settings(autodev_model_provider="bedrock")
    parent = {
        "AWS_REGION": "eu-west-1",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/creds",
        "DATABASE_URL": "postgresql://secret",
        "AWS_SECRET_ACCESS_KEY": "worker-role-secret",
    }
    assumed = {
        "AWS_ACCESS_KEY_ID": "ASIA1",
        "AWS_SECRET_ACCESS_KEY": "bedrock-only",
        "AWS_SESSION_TOKEN": "tok",
    }
    env = providers.agent_environment(
        settings, home=tmp_path, parent_env=parent, bedrock_credentials=assumed
    )
    assert env["CLAUDE_CODE_USE_BEDROCK"] == "1"
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["AWS_SECRET_ACCESS_KEY"] == "bedrock-only"
    assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" not in env
    assert "DATABASE_URL" not in env
    without_role = providers.agent_environment(settings, home=tmp_path, parent_env=parent)
    assert without_role["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] == "/v2/creds"
    assert "AWS_SECRET_ACCESS_KEY" not in without_role
    with pytest.raises(providers.ProviderUnavailable, match="AWS_REGION"):
        providers.agent_environment(settings, home=tmp_path, parent_env={})


def test_the_provider_defaults_to_scripted_without_a_key() -> None:
    assert load_settings().model_provider is ModelProvider.SCRIPTED
    keyed = load_settings(anthropic_api_key=SecretStr("k"))
    assert keyed.model_provider is ModelProvider.ANTHROPIC
    assert "SCRIPTED" in providers.describe(load_settings())


# --- scripts and the scripted server's answers ---


def test_scripts_are_validated_and_placeholders_filled() -> None:
    script = script_from_json(
        [{"text": "a", "tool_calls": [{"name": "Read", "input": {"file_path": "{workspace}/x"}}]}]
    ).substitute({"workspace": "/w"})
    assert script.turns[0].tool_calls[0].input == {"file_path": "/w/x"}
    assert script.turn_at(5).text.startswith("[scripted model]")
    bad_scripts: list[Any] = [[], [{}], [{"text": 1}], [{"tool_calls": [{"input": {}}]}], "x"]
    for bad in bad_scripts:
        with pytest.raises(InvalidInput):
            script_from_json(bad)


def test_usage_reads_the_prefix_from_the_cache_after_the_first_turn() -> None:
    request: dict[str, Any] = {
        "system": "s" * 4000,
        "tools": [{"name": "Read"}],
        "messages": [{"role": "user", "content": "u" * 400}],
    }
    first = usage_for(request, Turn(text="hello"), 0)
    assert first["cache_creation_input_tokens"] > first["input_tokens"] > 0
    assert first["cache_read_input_tokens"] == 0
    request["messages"] += [
        {"role": "assistant", "content": "a" * 40},
        {"role": "user", "content": "r" * 400},
    ]
    later = usage_for(request, Turn(tool_calls=(ToolCall("Read", {"file_path": "/x"}),)), 1)
    assert later["cache_read_input_tokens"] >= first["cache_creation_input_tokens"]
    assert later["input_tokens"] < first["input_tokens"]


# --- the scripted sessions work on what is really in the workspace ---


def test_step_kinds_follow_the_step_name_then_the_task_type() -> None:
    assert step_kind("verify", "test") == "verify"
    assert step_kind("root_cause", "analysis") == "diagnose"
    assert step_kind("security", "review") == "review"
    assert step_kind("prioritise", "analysis") == "prioritise"
    assert step_kind("Implement the fix", "") == "fix"
    assert step_kind("validate", "deployment") == "deploy_check"
    assert step_kind("smoke_test", "test") == "deploy_check"
    assert step_kind("deploy", "deployment") == "deploy"


def test_the_checks_find_the_known_defects_and_the_fixes_remove_them() -> None:
    known = json.loads((EXAMPLES / "KNOWN_DEFECTS.json").read_text())
    for defect in known:
        text = (EXAMPLES / defect["file"]).read_text()
        found = check_source(defect["file"], text)
        assert found, defect["id"]
        fixed = fixed_source(defect["file"], text)
        assert fixed is not None
        assert check_source(defect["file"], fixed) == []


def test_a_fix_session_edits_only_with_allowed_tools() -> None:
    prompt = "Fix the root cause of this bug in AccountTrigger: NPE"
    editing = session_for(
        step="fix",
        task_type="fix",
        prompt=prompt,
        workspace=EXAMPLES,
        allowed_tools=["Read", "Edit"],
    )
    edits = [c for t in editing.turns for c in t.tool_calls if c.name == "Edit"]
    assert [Path(c.input["file_path"]).name for c in edits] == ["AccountTrigger.trigger"]
    original = (EXAMPLES / TRIGGER).read_text()
    assert original.count(edits[0].input["old_string"]) == 1
    reading = session_for(
        step="fix", task_type="fix", prompt=prompt, workspace=EXAMPLES, allowed_tools=["Read"]
    )
    assert not [c for t in reading.turns for c in t.tool_calls if c.name in ("Edit", "Write")]
    assert "may not edit" in reading.turns[-1].text
    for turn in editing.turns:
        assert turn.text.startswith("[scripted model]")


def _deployment_answer(step: str, workspace: Path) -> dict[str, Any]:
    script = session_for(
        step=step,
        task_type="deployment",
        prompt="Validate a deployment of force-app to the org staging.",
        workspace=workspace,
        allowed_tools=["Read", "Grep", "Glob"],
    )
    assert all(turn.text.startswith("[scripted model]") for turn in script.turns)
    answer = final_json_object(script.turns[-1].text)
    assert answer is not None
    return answer


def test_deployment_checks_pass_on_the_example_despite_its_review_findings() -> None:
    # The example has known code defects; they are the review's business, not the deployment's.
    assert check_source(TRIGGER, (EXAMPLES / TRIGGER).read_text())
    for step in ("validate", "smoke_test"):
        answer = _deployment_answer(step, EXAMPLES)
        assert answer["passed"] is True, answer["problems"]
        assert TRIGGER in answer["components"]
        assert "AccountTriggerTest" in answer["test_classes"]


@pytest.mark.parametrize(
    ("breakage", "problem"),
    [
        ("missing-meta", "AccountTrigger.trigger has no AccountTrigger.trigger-meta.xml"),
        ("bad-meta", "AccountService.cls-meta.xml is not well-formed XML"),
        ("no-test", "OpportunityRollup.cls has no test class"),
        ("bad-project", "sfdx-project.json is not valid JSON"),
    ],
)
def test_deployment_checks_fail_on_broken_metadata(
    tmp_path: Path, breakage: str, problem: str
) -> None:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES, project)
    classes = project / "force-app/main/default/classes"
    if breakage == "missing-meta":
        (project / (TRIGGER + "-meta.xml")).unlink()
    elif breakage == "bad-meta":
        (classes / "AccountService.cls-meta.xml").write_text("<ApexClass><apiVersion>61.0")
    elif breakage == "no-test":
        (classes / "OpportunityRollupTest.cls").unlink()
        (classes / "OpportunityRollupTest.cls-meta.xml").unlink()
    else:
        (project / "sfdx-project.json").write_text("{not json")
    answer = _deployment_answer("validate", project)
    assert answer["passed"] is False
    assert any(problem in found for found in answer["problems"]), answer["problems"]
    assert problem in answer["details"]


# --- the session monitor ---


def _tool(monitor: SessionMonitor, tool_id: str, name: str, error: str | None) -> str | None:
    monitor.observe(
        {
            "type": "assistant",
            "message_id": f"m-{tool_id}",
            "tool_uses": [{"id": tool_id, "name": name, "input": {"command": "sf"}}],
            "usage": {"input_tokens": 10, "output_tokens": 2},
        }
    )
    return monitor.observe(
        {
            "type": "tool_result",
            "tool_use_id": tool_id,
            "is_error": error is not None,
            "content": error or "ok",
        }
    )


def test_the_same_error_three_times_in_a_row_stops_the_session(tmp_path: Path) -> None:
    monitor = SessionMonitor(tmp_path)
    assert _tool(monitor, "t1", "Bash", "sf: command not found") is None
    assert _tool(monitor, "t2", "Bash", "sf: command not found") is None
    reason = _tool(monitor, "t3", "Bash", "sf: command not found")
    assert reason is not None
    assert reason.startswith("stopped early: the same error 3 times in a row")


def test_different_errors_or_a_success_reset_the_count(tmp_path: Path) -> None:
    monitor = SessionMonitor(tmp_path)
    assert _tool(monitor, "t1", "Bash", "error A") is None
    assert _tool(monitor, "t2", "Bash", "error A") is None
    assert _tool(monitor, "t3", "Bash", None) is None
    assert _tool(monitor, "t4", "Bash", "error A") is None
    assert _tool(monitor, "t5", "Bash", "error B") is None
    assert _tool(monitor, "t6", "Bash", "error A") is None


def test_usage_is_counted_once_per_message_and_edits_are_files_changed(tmp_path: Path) -> None:
    monitor = SessionMonitor(tmp_path)
    usage = {"input_tokens": 100, "output_tokens": 5, "cache_read_input_tokens": 50}
    for block in (
        {"text": "Fixing."},
        {
            "tool_uses": [
                {"id": "e", "name": "Edit", "input": {"file_path": str(tmp_path / "src" / "A.cls")}}
            ]
        },
    ):
        monitor.observe({"type": "assistant", "message_id": "m1", "usage": usage, **block})
    assert monitor.turns == 1
    assert (monitor.usage.input_tokens, monitor.usage.cache_read_tokens) == (100, 50)
    assert monitor.files_touched == ["src/A.cls"]
    monitor.observe(
        {
            "type": "result",
            "total_cost_usd": 0.25,
            "num_turns": 2,
            "usage": {"input_tokens": 120, "output_tokens": 9},
        }
    )
    assert monitor.usage.cost_usd == 0.25
    assert monitor.usage.input_tokens == 120
    assert monitor.metrics().files_modified == 1


def test_the_final_json_object_is_read_from_the_answer() -> None:
    text = 'Done.\n```json\n{"passed": false}\n```\nthen\n```json\n{"passed": true}\n```'
    assert final_json_object(text) == {"passed": True}
    assert final_json_object('{"items": []}') == {"items": []}
    assert final_json_object("no json here") is None


# --- small rules ---


def test_tool_rules_offer_their_base_tools() -> None:
    assert base_tool_names(["Read", "Bash(sf apex run test:*)", "Bash(git diff:*)"]) == [
        "Read",
        "Bash",
    ]


def test_workers_start_for_queued_tasks_no_free_worker_takes() -> None:
    assert workers_to_start(queued=0, workers=0, busy=0, maximum=5) == 0
    assert workers_to_start(queued=3, workers=0, busy=0, maximum=5) == 3
    assert workers_to_start(queued=1, workers=1, busy=0, maximum=5) == 0  # an idle one takes it
    assert workers_to_start(queued=1, workers=1, busy=1, maximum=5) == 1  # a busy one does not
    assert workers_to_start(queued=3, workers=2, busy=1, maximum=5) == 2
    assert workers_to_start(queued=50, workers=0, busy=0, maximum=5) == 5
    assert workers_to_start(queued=9, workers=5, busy=5, maximum=5) == 0  # at the maximum


def test_the_scaler_reads_the_tasks_a_starting_workflow_expects() -> None:
    assert expected_tasks({"reason": "workflow starting", "expected": 1}) == 1
    # The enqueue pokes, the rescuer and a schedule name none: only what is queued counts.
    assert expected_tasks({"reason": "task queued", "task_id": "t"}) == 0
    assert expected_tasks(None) == 0
    assert expected_tasks([1]) == 0
    for wrong in (-1, MAX_EXPECTED + 1, "1", 1.5, True, None):
        with pytest.raises(InvalidInput, match="expected must be a whole number"):
            expected_tasks({"expected": wrong})


def test_task_files_must_stay_inside_the_workspace(tmp_path: Path) -> None:
    for files in ({"../escape.txt": "x"}, {"/etc/passwd": "x"}, {}, {"a.txt": 1}):
        with pytest.raises(InvalidInput):
            workspace.prepare(tmp_path, "t", context={"files": files}, source=None)


def test_scripts_round_trip_through_json() -> None:
    from autodev.local.model.script import script_to_json

    script = Script("s", (Turn("a", (ToolCall("Read", {"file_path": "/x"}),)), Turn("b")))
    assert script_from_json(script_to_json(script)).turns == script.turns
