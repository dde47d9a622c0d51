"""Step Functions calls and their errors, phrased for a person.

Names the local engine and infra agree on: state machines are ``autodev-<template>``; their
ARNs are ``AUTODEV_STATE_MACHINE_ARN_PREFIX`` + template (unset: built from STS and the region).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from autodev.aws import client, region
from autodev.config import get_settings
from autodev.errors import AutodevError, NotFound

STATE_MACHINE_NAME_PREFIX = "autodev-"


class StepFunctionsError(AutodevError):
    """Step Functions refused or could not be reached; the message says what it means."""


# What each error code means for the person who asked.
_MEANINGS = {
    "TaskTimedOut": "the step stopped waiting: it timed out before the answer came",
    "InvalidToken": "the step is no longer waiting (the workflow has moved on or ended)",
    "TaskDoesNotExist": "the step is no longer waiting (the workflow has moved on or ended)",
    "ExecutionDoesNotExist": "the execution does not exist",
    "StateMachineDoesNotExist": "the workflow's state machine is not deployed",
    "ExecutionAlreadyExists": "an execution with this name exists already",
    "ExecutionLimitExceeded": "too many executions are running; try again later",
    "ThrottlingException": "Step Functions is throttling requests; try again shortly",
}


def explain(error: Exception, doing: str) -> AutodevError:
    """A one-line AutodevError for a boto error met while ``doing`` something."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", "Unknown"))
        meaning = _MEANINGS.get(code)
        if meaning is None:
            message = str(error.response.get("Error", {}).get("Message", "")).strip()
            meaning = f"Step Functions answered {code}" + (f": {message}" if message else "")
        if code in {"ExecutionDoesNotExist", "StateMachineDoesNotExist"}:
            return NotFound(f"could not {doing}: {meaning}")
        return StepFunctionsError(f"could not {doing}: {meaning}")
    if isinstance(error, NoCredentialsError):
        # Most often a developer whose local stack is not running: say what to do.
        return StepFunctionsError(
            f"could not {doing}: no AWS credentials and no local stack"
            " (start one with `autodev local up`, or configure AWS credentials)"
        )
    if isinstance(error, BotoCoreError):
        return StepFunctionsError(f"could not {doing}: Step Functions is unreachable ({error})")
    return StepFunctionsError(f"could not {doing}: {error}")


def error_code(error: Exception) -> str | None:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code"))
    return None


@cache
def _account_id() -> str:
    return str(client("sts").get_caller_identity()["Account"])


def state_machine_arn(template: str) -> str:
    prefix = get_settings().autodev_state_machine_arn_prefix
    if prefix is None:
        prefix = (
            f"arn:aws:states:{region()}:{_account_id()}:stateMachine:{STATE_MACHINE_NAME_PREFIX}"
        )
    return prefix + template


def execution_arn(state_machine: str, execution_name: str) -> str:
    """The ARN StartExecution will give an execution of that name."""
    return state_machine.replace(":stateMachine:", ":execution:", 1) + ":" + execution_name


def console_url(execution: str) -> str | None:
    """Where a person sees the execution: ``AUTODEV_EXECUTION_PAGE_URL`` + its name when set
    (the local stack's page), else its page in the AWS console; None against a stand-in
    endpoint (``AWS_ENDPOINT_URL``), where an AWS console link would lead nowhere."""
    page = get_settings().autodev_execution_page_url
    if page:
        return page.rstrip("/") + "/" + quote(execution.rsplit(":", 1)[-1], safe="")
    if os.environ.get("AWS_ENDPOINT_URL"):
        return None
    where = execution.split(":")[3] if execution.count(":") >= 3 else region()
    return (
        f"https://{where}.console.aws.amazon.com/states/home?region={where}"
        f"#/v2/executions/details/{quote(execution, safe=':')}"
    )


def link_label(url: str) -> str:
    """What a link to an execution is called: the AWS console, or the local page."""
    return "AWS console" if ".console.aws.amazon.com/" in url else "local page"


def sfn() -> Any:
    return client("stepfunctions")
