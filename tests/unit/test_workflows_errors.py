"""Step Functions errors become one clear line; the execution history becomes steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from autodev.errors import NotFound
from autodev.workflows import StepFunctionsError
from autodev.workflows.history import current_step, steps_from_history
from autodev.workflows.sfn import console_url, execution_arn, explain


def _client_error(code: str, message: str = "details") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "SendTaskSuccess")


@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        ("TaskTimedOut", "it timed out before the answer came"),
        ("InvalidToken", "is no longer waiting"),
        ("TaskDoesNotExist", "is no longer waiting"),
        ("ThrottlingException", "try again shortly"),
        ("SomethingNew", "Step Functions answered SomethingNew: details"),
    ],
)
def test_step_functions_errors_read_well(code: str, meaning: str) -> None:
    error = explain(_client_error(code), "record the approval")
    assert isinstance(error, StepFunctionsError)
    assert str(error).startswith("could not record the approval: ")
    assert meaning in str(error)
    assert "\n" not in str(error)


def test_missing_executions_are_not_found_and_unreachable_is_said() -> None:
    assert isinstance(explain(_client_error("ExecutionDoesNotExist"), "read it"), NotFound)
    down = explain(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "start bug-fix")
    assert "Step Functions is unreachable" in str(down)


def test_no_credentials_says_how_to_start_the_local_stack() -> None:
    error = explain(NoCredentialsError(), "start bug-fix")
    assert isinstance(error, StepFunctionsError)
    assert str(error).startswith("could not start bug-fix: no AWS credentials and no local stack")
    assert "autodev local up" in str(error)


def test_execution_arn_and_console_url() -> None:
    machine = "arn:aws:states:eu-west-1:111122223333:stateMachine:autodev-bug-fix"
    arn = execution_arn(machine, "bug-fix-1234abcd")
    assert arn == "arn:aws:states:eu-west-1:111122223333:execution:autodev-bug-fix:bug-fix-1234abcd"
    url = console_url(arn)
    assert url is not None
    assert url.startswith("https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1")
    assert url.endswith(arn)


def test_a_local_run_links_to_the_local_page_never_to_an_aws_console(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from autodev.config import get_settings

    arn = "arn:aws:states:us-east-1:123456789012:execution:autodev-bug-fix:bug-fix-1234abcd"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")  # a stand-in endpoint
    get_settings.cache_clear()
    assert console_url(arn) is None
    monkeypatch.setenv("AUTODEV_EXECUTION_PAGE_URL", "http://127.0.0.1:6000/executions")
    get_settings.cache_clear()
    assert console_url(arn) == "http://127.0.0.1:6000/executions/bug-fix-1234abcd"
    get_settings.cache_clear()


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _event(event_id: int, kind: str, previous: int, seconds: int, **details: Any) -> dict[str, Any]:
    key = kind[0].lower() + kind[1:]
    if kind.endswith("StateEntered"):
        key = "stateEntered"
    elif kind.endswith("StateExited"):
        key = "stateExited"
    return {
        "id": event_id,
        "type": kind,
        "previousEventId": previous,
        "timestamp": T0 + timedelta(seconds=seconds),
        f"{key}EventDetails": details,
    }


def test_concurrent_branches_with_their_own_exits_and_failures() -> None:
    events = [
        _event(1, "ExecutionStarted", 0, 0),
        _event(2, "ParallelStateEntered", 1, 0, name="Run reviews"),
        _event(3, "TaskStateEntered", 2, 1, name="Security review"),
        _event(4, "TaskStateEntered", 2, 1, name="Quality review"),
        _event(5, "TaskScheduled", 3, 1),
        _event(6, "TaskScheduled", 4, 1),
        _event(7, "TaskFailed", 6, 3, error="Agent.Crashed", cause="worker died"),
        _event(8, "TaskSucceeded", 5, 4),
        _event(9, "TaskStateExited", 8, 4, name="Security review"),
    ]
    steps = steps_from_history(events, "RUNNING")
    assert [(s.name, s.status) for s in steps] == [
        ("Run reviews", "running"),
        ("Security review", "succeeded"),
        ("Quality review", "running"),
    ]
    quality = steps[2]
    assert (quality.error, quality.cause) == ("Agent.Crashed", "worker died")
    assert steps[1].ended_at == T0 + timedelta(seconds=4)
    assert current_step(steps) == "Quality review"
    finished = steps_from_history(events, "ABORTED")
    assert finished[2].status == "stopped"
    assert finished[2].error is None
