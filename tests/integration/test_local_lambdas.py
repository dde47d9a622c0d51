"""The local engine runs Lambda invocations in-process: synchronous answers, Lambda-shaped
errors, and asynchronous (Event) invocations that run in the background."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from autodev.aws import client
from autodev.config import get_settings
from autodev.local import lambdas
from autodev.local.stack import LocalStack
from autodev.local.testing import wait_for
from autodev.workflows import StartRequest, get_workflow_status, start_workflow
from autodev.workflows.steps import poke_scaler


def test_request_response_errors_come_back_shaped_like_lambda(
    local_stack: LocalStack,
) -> None:
    answer = client("lambda").invoke(
        FunctionName="workflow_finished", Payload=json.dumps({"status": "done"}).encode()
    )
    assert answer["FunctionError"] == "Unhandled"
    payload = json.loads(answer["Payload"].read())
    assert payload["errorType"] == "InvalidInput"
    assert payload["errorMessage"].startswith("the step payload is not valid at workflow_id")


def test_event_invocations_run_in_the_background(local_stack: LocalStack) -> None:
    started = start_workflow(StartRequest("bug-fix", {"description": "NPE on insert"}, "U1"))
    answer = client("lambda").invoke(
        FunctionName="workflow_finished",
        InvocationType="Event",
        Payload=json.dumps(
            {
                "workflow_id": started.id,
                "status": "failed",
                "failure": {"Error": "Test.Stop", "Cause": "stopped from a test"},
            }
        ).encode(),
    )
    assert answer["StatusCode"] == 202
    status = wait_for(
        lambda: (s := get_workflow_status(started.id)).finished and s, what="the async finish"
    )
    assert (status.status, status.error, status.cause) == (
        "failed",
        "Test.Stop",
        "stopped from a test",
    )


def test_enqueue_pokes_the_scaler_asynchronously(
    local_stack: LocalStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = tmp_path / "poked.json"
    probe = tmp_path / "probe" / "handler.py"
    probe.parent.mkdir()
    # Written whole, then renamed into place: the test waits for the file to exist, and must not
    # read it half-written.
    probe.write_text(
        "import json, pathlib\n"
        "def handler(event, context):\n"
        f"    written = pathlib.Path({str(seen)!r} + '.part')\n"
        "    written.write_text(json.dumps(event))\n"
        f"    written.replace({str(seen)!r})\n"
    )
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "")
    client("lambda").create_function(
        FunctionName="probe_scaler",
        Runtime="python3.12",
        Role="arn:aws:iam::123456789012:role/autodev-local",
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )
    lambdas.register({"probe_scaler": probe})

    monkeypatch.delenv("AUTODEV_SCALER_FUNCTION", raising=False)
    get_settings.cache_clear()
    assert poke_scaler("t-1") is False

    monkeypatch.setenv("AUTODEV_SCALER_FUNCTION", "probe_scaler")
    get_settings.cache_clear()
    assert poke_scaler("t-2") is True
    wait_for(seen.exists, what="the scaler to be poked")
    assert json.loads(seen.read_text()) == {"reason": "task queued", "task_id": "t-2"}


_PROBE = """
import json, pathlib
def handler(event, context):
    if event.get("do") == "note":  # written whole, then renamed: a waiting test reads it whole
        part = pathlib.Path(event["to"] + ".part")
        part.write_text(json.dumps(event))
        part.replace(event["to"])
        return None
    if event.get("do") == "raise":
        raise ValueError("refused " + json.dumps(event))
    if event.get("do") == "big":
        return {"blob": "x" * 6_400_000}
    return {"echo": event}
"""


def _probe_function(tmp_path: Path, name: str) -> str:
    """A function of this stack whose handler echoes its event, raises, answers 6.4 MB or
    notes its event in a file."""
    handler = tmp_path / name / "handler.py"
    handler.parent.mkdir()
    handler.write_text(_PROBE)
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "")
    arn = client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role="arn:aws:iam::123456789012:role/autodev-local",
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    lambdas.register({name: handler})
    return str(arn)


@pytest.fixture
def over_http(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the invocations moto's Lambda API (over HTTP) answers from now on."""
    from moto.awslambda.responses import LambdaResponse

    answered: list[str] = []
    api_invoke = LambdaResponse.invoke

    def counted(self: LambdaResponse) -> Any:
        answered.append(self.path)
        return api_invoke(self)

    monkeypatch.setattr(LambdaResponse, "invoke", counted)
    return answered


def test_step_functions_lambda_tasks_are_answered_in_process_as_the_api_answers(
    local_stack: LocalStack, tmp_path: Path, over_http: list[str]
) -> None:
    arn = _probe_function(tmp_path, f"probe_{uuid.uuid4().hex[:8]}")
    sfn = client("stepfunctions")
    # Both ways a definition calls a function: the integration and the function's own ARN.
    tasks: dict[str, dict[str, Any]] = {
        "integration": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": arn, "Payload.$": "$"},
            "OutputPath": "$.Payload",
        },
        "function": {"Type": "Task", "Resource": arn},
    }
    machines = {
        kind: sfn.create_state_machine(
            name=f"probe-{kind}-{uuid.uuid4().hex[:6]}",
            definition=json.dumps({"StartAt": "Call", "States": {"Call": {**task, "End": True}}}),
            roleArn="arn:aws:iam::123456789012:role/probe",
        )["stateMachineArn"]
        for kind, task in tasks.items()
    }
    runs = {
        (kind, do): sfn.start_execution(stateMachineArn=machine, input=json.dumps({"do": do}))[
            "executionArn"
        ]
        for kind, machine in machines.items()
        for do in ("echo", "raise", "big")
    }

    def ended() -> dict[tuple[str, str], dict[str, Any]] | None:
        found = {key: sfn.describe_execution(executionArn=run) for key, run in runs.items()}
        return None if any(r["status"] == "RUNNING" for r in found.values()) else found

    done = wait_for(ended, timeout=60, what="the executions to end")
    for kind in machines:
        assert done[kind, "echo"]["status"] == "SUCCEEDED"
        assert json.loads(done[kind, "echo"]["output"]) == {"echo": {"do": "echo"}}
        # An unhandled error is the state's error, named by its type, its payload the cause.
        assert (done[kind, "raise"]["status"], done[kind, "raise"]["error"]) == (
            "FAILED",
            "ValueError",
        )
        cause = json.loads(done[kind, "raise"]["cause"])
        assert cause["errorMessage"] == 'refused {"do": "raise"}'
        # An answer over Lambda's 6 MB is refused as Lambda refuses it.
        assert (done[kind, "big"]["status"], done[kind, "big"]["error"]) == (
            "FAILED",
            "Function.ResponseSizeTooLarge",
        )
    assert over_http == []


def test_an_asynchronous_invocation_made_here_is_answered_in_process_as_the_api_answers(
    local_stack: LocalStack, tmp_path: Path, over_http: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"probe_{uuid.uuid4().hex[:8]}"
    arn = _probe_function(tmp_path, name)
    functions = client("lambda")

    def note(function: str, to: str, **options: Any) -> dict[str, Any]:
        target = tmp_path / to
        event = {"do": "note", "to": str(target)}
        answer: dict[str, Any] = functions.invoke(
            FunctionName=function,
            InvocationType="Event",
            Payload=json.dumps(event).encode(),
            **options,
        )
        wait_for(target.exists, what=f"the event noted in {to}")
        assert json.loads(target.read_text()) == event
        return answer

    # By name and by ARN: to moto's backend directly, answered as its API answers.
    for to, function in (("by-name", name), ("by-arn", arn)):
        answer = note(function, to)
        assert answer["StatusCode"] == 202
        assert answer["Payload"].read() == b""
    assert over_http == []

    # Anything else goes over HTTP: a synchronous invocation, an option, an unknown function.
    echoed = functions.invoke(FunctionName=name, Payload=json.dumps({"do": "echo"}).encode())
    assert json.loads(echoed["Payload"].read()) == {"echo": {"do": "echo"}}
    assert note(name, "qualified", Qualifier="$LATEST")["StatusCode"] == 202
    with pytest.raises(functions.exceptions.ResourceNotFoundException):
        functions.invoke(FunctionName="no_such_function", InvocationType="Event", Payload=b"{}")
    assert len(over_http) == 3
    # And everything once the stack's server is not the one answered here (a stopped stack).
    monkeypatch.setattr(lambdas, "_endpoint", None)
    assert note(name, "over-http")["StatusCode"] == 202
    assert len(over_http) == 4


def test_a_running_stack_holds_what_it_made_out_of_full_collections(
    database: str, tmp_path: Path
) -> None:
    import gc

    def handler(name: str) -> Path:
        path = tmp_path / name / "handler.py"
        path.parent.mkdir()
        path.write_text("TABLE = [[n] for n in range(20_000)]\n")
        return path

    with LocalStack(poke_scaler=False):
        # Its objects (modules, clients, moto) are frozen, not walked by every full collection.
        held = gc.get_freeze_count()
        assert held > 10_000
        # What a handler loaded on first use made joins them.
        lambdas.load_module(handler("long_lived"))
        assert gc.get_freeze_count() > held + 10_000
    assert gc.get_freeze_count() == 0  # given back to the collector when the stack stops
    # Without a stack, a handler's load freezes nothing.
    lambdas.load_module(handler("no_stack"))
    assert gc.get_freeze_count() == 0
