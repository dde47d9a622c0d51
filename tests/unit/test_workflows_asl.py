"""Every state machine definition is checked: JSON, transitions, Retry/Catch, timeouts,
substitutions, and agreement with the template catalog."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from autodev.config import load_settings
from autodev.workflows import asl
from autodev.workflows.catalog import get_template, list_templates

TEMPLATES = asl.template_names()
TRANSIENT = {"Lambda.ServiceException", "Lambda.TooManyRequestsException"}


def _values(**overrides: int) -> dict[str, str | int]:
    values: dict[str, str | int] = {
        asl.function_substitution(f): f"arn:aws:lambda:us-east-1:123456789012:function:{f}"
        for f in asl.STATE_MACHINE_FUNCTIONS
    }
    values.update(asl.default_substitutions(load_settings()))
    values.update(overrides)
    return values


def _machines(definition: dict[str, Any], where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """The definition and every nested Parallel branch and Map processor, with a label."""
    yield where or "top level", definition
    for name, state in definition["States"].items():
        for index, branch in enumerate(state.get("Branches", [])):
            yield from _machines(branch, f"{name} branch {index + 1}")
        if "ItemProcessor" in state:
            yield from _machines(state["ItemProcessor"], f"{name} items")


def _rendered(template: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(
        asl.render_definition(asl.load_definition(template), _values())
    )
    return parsed


def test_the_four_templates_exist() -> None:
    assert TEMPLATES == ["bug-fix", "code-review", "deployment", "full-analysis-improvement"]
    assert [t.name for t in list_templates()] == TEMPLATES


@pytest.mark.parametrize("template", TEMPLATES)
def test_file_is_valid_json_and_uses_only_known_substitutions(template: str) -> None:
    text = asl.load_definition(template)
    json.loads(text)
    assert asl.placeholders(text) <= set(_values())


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_transition_resolves_and_every_state_is_reachable(template: str) -> None:
    for where, machine in _machines(_rendered(template)):
        states = machine["States"]
        assert machine["StartAt"] in states, where
        targets = {machine["StartAt"]}
        for name, state in states.items():
            nexts = [state.get("Next"), state.get("Default")]
            nexts += [choice.get("Next") for choice in state.get("Choices", [])]
            nexts += [catch["Next"] for catch in state.get("Catch", [])]
            for target in filter(None, nexts):
                assert target in states, f"{where}: {name} goes to unknown {target!r}"
                targets.add(target)
            ends = state.get("End") or state["Type"] in {"Fail", "Succeed", "Choice"}
            assert ends or state.get("Next"), f"{where}: {name} has no Next and no End"
        assert set(states) == targets, f"{where}: unreachable {set(states) - targets}"


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_task_has_retry_catch_and_timeout(template: str) -> None:
    tasks = 0
    for where, machine in _machines(_rendered(template)):
        for name, state in machine["States"].items():
            if state["Type"] in {"Map", "Parallel"}:
                assert state.get("Catch"), f"{where}: {name} has no Catch"
            if state["Type"] != "Task":
                continue
            tasks += 1
            label = f"{where}: {name}"
            retried = {e for rule in state.get("Retry", []) for e in rule["ErrorEquals"]}
            assert retried >= TRANSIENT, f"{label} does not retry transient Lambda errors"
            assert "States.ALL" not in retried, f"{label} retries every error"
            assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), label
            assert isinstance(state.get("TimeoutSeconds"), int), f"{label} has no timeout"
            if state["Resource"].endswith(".waitForTaskToken"):
                payload = state["Parameters"]["Payload"]
                assert payload["task_token.$"] == "$$.Task.Token", label
            if state["Parameters"]["FunctionName"].endswith(":enqueue_task"):
                # Agent steps: a heartbeat shorter than the timeout.
                assert 0 < state["HeartbeatSeconds"] < state["TimeoutSeconds"], label
    assert tasks >= 4


def _calling(states: dict[str, Any], function: str) -> set[str]:
    return {
        name
        for name, state in states.items()
        if state.get("Parameters", {}).get("FunctionName", "").endswith(f":{function}")
    }


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_execution_first_becomes_a_workflow(template: str) -> None:
    # An execution started from the console or EventBridge has no workflow row yet: the first
    # state after the scheduled-run check registers it (or finds the row start_workflow or a
    # scheduled run wrote) before any step needs it.
    definition = _rendered(template)
    states = definition["States"]
    assert _calling(states, "workflow_started") == {"Register workflow"}
    first = states["Register workflow"]
    assert states[definition["StartAt"]]["Default"] == "Register workflow"
    payload = first["Parameters"]["Payload"]
    assert payload["template"] == template
    assert payload["execution_arn.$"] == "$$.Execution.Id"
    assert payload["execution_input.$"] == "$"
    assert set(first["ResultSelector"]) == {"workflow_id.$", "template.$", "priority.$", "input.$"}
    assert states[first["Next"]]["Type"] == "Pass"  # then the steps' record starts


@pytest.mark.parametrize("template", TEMPLATES)
def test_agent_steps_send_what_makes_each_attempt_one_task(template: str) -> None:
    # enqueue_task keys a step's task on execution, state, entered time and Map item: a
    # Lambda Retry of one entry into the state repeats them all (it is the same task); the
    # state entered again (bug-fix's loop) has a new entered time (a new task).
    agent_steps = 0
    for where, machine in _machines(_rendered(template)):
        for name, state in machine["States"].items():
            parameters = state.get("Parameters", {})
            if not str(parameters.get("FunctionName", "")).endswith(":enqueue_task"):
                continue
            agent_steps += 1
            payload = parameters["Payload"]
            label = f"{where}: {name}"
            assert payload["execution_id.$"] == "$$.Execution.Id", label
            assert payload["state.$"] == "$$.State.Name", label
            assert payload["state_entered_at.$"] == "$$.State.EnteredTime", label
            # Iterations of a Map share the state and may share the entered time.
            assert ("item_index.$" in payload) == where.endswith(" items"), label
    assert agent_steps == len(get_template(template).steps) - _approvals(template)


def _approvals(template: str) -> int:
    return sum(
        1
        for _, machine in _machines(_rendered(template))
        for state in machine["States"].values()
        if str(state.get("Parameters", {}).get("FunctionName", "")).endswith(":request_approval")
    )


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_path_ends_by_recording_the_outcome(template: str) -> None:
    states = _rendered(template)["States"]
    # The registration records a refusal itself (the workflow's row, failed with the reason).
    finish = _calling(states, "workflow_finished") | _calling(states, "workflow_started")
    for name, state in states.items():
        if name in asl.SCHEDULED_RUN_STATES:
            continue  # before a scheduled run's workflow exists: nothing to record yet
        if state["Type"] in {"Succeed", "Fail"}:
            feeders = [
                n
                for n, s in states.items()
                if s.get("Next") == name or any(c["Next"] == name for c in s.get("Catch", []))
            ]
            assert feeders, f"nothing reaches {name}"
            assert set(feeders) <= finish, f"{name} is reached from {feeders}"


@pytest.mark.parametrize("template", TEMPLATES)
def test_agent_steps_agree_with_the_catalog(template: str) -> None:
    info = get_template(template)
    used: dict[str, str] = {}
    for _, machine in _machines(_rendered(template)):
        for name, state in machine["States"].items():
            payload = state.get("Parameters", {}).get("Payload", {})
            if "step" in payload:
                assert payload["template"] == template
                used[payload["step"]] = name
    assert used == {step.key: step.state for step in info.steps}


@pytest.mark.parametrize("template", TEMPLATES)
def test_a_scheduled_start_is_recorded_before_the_workflow_is_registered(template: str) -> None:
    states = _rendered(template)["States"]
    assert _rendered(template)["StartAt"] == "Scheduled run?"
    gate = states["Scheduled run?"]
    assert gate["Default"] == "Register workflow"
    assert gate["Choices"] == [
        {
            "Variable": "$.scheduled_job_id",
            "IsPresent": True,
            "Next": "Register the scheduled run",
        }
    ]
    register = states["Register the scheduled run"]
    assert register["Parameters"]["FunctionName"].endswith(":scheduled_run")
    assert register["Parameters"]["Payload"]["template"] == template
    assert register["Parameters"]["Payload"]["execution_arn.$"] == "$$.Execution.Id"
    assert register["OutputPath"] == "$.Payload"
    # A scheduled run, once recorded, is registered like any other start (its row found).
    assert states["Run it?"]["Choices"][0]["Next"] == "Register workflow"
    assert states["Register workflow"]["Next"] == "Prepare workflow"
    # The states before the workflow exists are exactly the ones allowed to end unrecorded.
    before = {name for name in states if name in asl.SCHEDULED_RUN_STATES}
    assert before == asl.SCHEDULED_RUN_STATES


def test_numbers_are_rendered_as_numbers_and_text_inside_strings() -> None:
    rendered = json.loads(
        asl.render_definition(asl.load_definition("deployment"), _values(ApprovalTimeoutSeconds=7))
    )
    approval = rendered["States"]["Request approval"]
    assert approval["TimeoutSeconds"] == 7
    assert approval["Parameters"]["Payload"]["timeout_seconds"] == 7
    assert approval["Parameters"]["FunctionName"].endswith(":request_approval")
    assert "within 7 seconds" in rendered["States"]["Approval timed out"]["Cause"]


def test_missing_or_bad_substitutions_are_named() -> None:
    text = asl.load_definition("bug-fix")
    values = _values()
    del values["MaxFixAttempts"]
    with pytest.raises(asl.DefinitionError, match="MaxFixAttempts"):
        asl.render_definition(text, values)
    with pytest.raises(asl.DefinitionError, match="HeartbeatSeconds must be a whole number"):
        asl.render_definition(text, _values(HeartbeatSeconds=0))


def test_a_cdk_token_as_a_value_is_left_alone() -> None:
    values = _values()
    values["EnqueueTaskFunctionArn"] = "${Token[TOKEN.123]}"
    rendered = asl.render_definition(asl.load_definition("bug-fix"), values)
    assert "${Token[TOKEN.123]}" in rendered


def test_heartbeat_must_be_below_the_task_timeout() -> None:
    settings = load_settings(orchestrator_timeout=60_000, workflow_heartbeat_seconds=60)
    with pytest.raises(asl.DefinitionError, match="WORKFLOW_HEARTBEAT_SECONDS"):
        asl.default_substitutions(settings)


@pytest.mark.parametrize(
    ("step", "passed_next", "error"),
    [
        ("Validate deployment", "Request approval", "ValidationFailed"),
        ("Run smoke tests", "Record success", "SmokeTestsFailed"),
    ],
)
def test_deployment_goes_on_only_when_its_check_passed(
    step: str, passed_next: str, error: str
) -> None:
    states = _rendered("deployment")["States"]
    gate = states[states[step]["Next"]]
    assert gate["Type"] == "Choice"
    passed_rule, *other_rules = gate["Choices"]
    assert passed_rule["Next"] == passed_next
    variable = passed_rule["And"][0]["Variable"]
    assert {"Variable": variable, "BooleanEquals": True} in passed_rule["And"]
    # Every other way out (false, missing, not a boolean) phrases the failure and records it.
    for name in [rule["Next"] for rule in other_rules] + [gate["Default"]]:
        failed = states[name]
        assert failed["Type"] == "Pass", name
        assert failed["Parameters"]["Error"] == error
        assert failed["ResultPath"] == "$.failure"
        assert failed["Next"] == "Record failure"
    if error == "SmokeTestsFailed":
        assert "is live" in failed["Parameters"]["Cause.$"]


@pytest.mark.parametrize("template", TEMPLATES)
def test_tool_steps_name_their_tool_and_a_choice_reads_what_it_said(template: str) -> None:
    # A deterministic step names the catalog's tool (enqueue_task refuses a mismatch), and the
    # state after it is a Choice on the 'passed' that only the tool runner writes.
    info = get_template(template)
    states = _rendered(template)["States"]
    tools = {step.key: step.tool for step in info.steps}
    seen = set()
    for name, state in states.items():
        payload = state.get("Parameters", {}).get("Payload", {})
        if "step" not in payload or not str(state["Parameters"]["FunctionName"]).endswith(
            ":enqueue_task"
        ):
            continue
        assert payload.get("tool") == tools[payload["step"]], name
        if payload.get("tool") is None:
            continue
        seen.add(payload["step"])
        gate = states[state["Next"]]
        assert gate["Type"] == "Choice", name
        passed_rule = gate["Choices"][0]
        assert {"Variable": f"{state['ResultPath']}.passed", "BooleanEquals": True} in passed_rule[
            "And"
        ], name
        for other in [rule["Next"] for rule in gate["Choices"][1:]] + [gate["Default"]]:
            # Anything but 'passed' fails the workflow, or goes back to an agent step to try
            # again (bug-fix's fix after a failed verification); never on to success.
            for task in _tasks_reached(states, other):
                payload = states[task]["Parameters"].get("Payload", {})
                assert task == "Record failure" or (
                    payload.get("step") in tools and payload.get("tool") is None
                ), (name, other, task)
    assert seen == {key for key, tool in tools.items() if tool}


def _tasks_reached(states: dict[str, Any], start: str) -> set[str]:
    """The Task states reached from ``start`` through Pass and Choice states only."""
    reached: set[str] = set()
    pending, seen = [start], set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        state = states[name]
        if state["Type"] == "Task":
            reached.add(name)
        elif state["Type"] == "Choice":
            pending += [rule["Next"] for rule in state["Choices"]] + [state["Default"]]
        elif "Next" in state:
            pending.append(state["Next"])
    return reached


def test_the_gated_templates_run_their_tools() -> None:
    assert [s.tool for s in get_template("deployment").steps if s.tool] == [
        "deploy_validate",
        "deploy_quick",
        "apex_tests",
    ]
    assert get_template("code-review").steps[0].tool == "code_analyzer"
    analysis = get_template("full-analysis-improvement")
    assert [s.tool for s in analysis.steps if s.tool] == ["code_analyzer", "apex_tests"]
