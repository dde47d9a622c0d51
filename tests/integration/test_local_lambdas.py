"""The local engine runs Lambda invocations in-process: synchronous answers, Lambda-shaped
errors, and asynchronous (Event) invocations that run in the background."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

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
