"""Physical names and the ARNs built from them.

Functions and state machines get fixed names (``autodev-<env>-...``) so that their ARNs can be
formatted without a reference to the resource. That keeps grants between functions, state
machines and workers free of dependency cycles (a function may start a state machine that
invokes that same function), and gives people stable names in the console.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack


def function_name(env: str, folder: str) -> str:
    return f"autodev-{env}-{folder.replace('_', '-')}"


def state_machine_name(env: str, template: str) -> str:
    return f"autodev-{env}-{template}"


def function_arn(stack: Stack, env: str, folder: str) -> str:
    return stack.format_arn(
        service="lambda",
        resource="function",
        resource_name=function_name(env, folder),
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def state_machine_arn(stack: Stack, env: str, template: str) -> str:
    return stack.format_arn(
        service="states",
        resource="stateMachine",
        resource_name=state_machine_name(env, template),
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def state_machine_arn_prefix(stack: Stack, env: str) -> str:
    """``arn:...:stateMachine:autodev-<env>-``; a template's ARN is this plus its name."""
    return stack.format_arn(
        service="states",
        resource="stateMachine",
        resource_name=f"autodev-{env}-",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def executions_arn(stack: Stack, env: str, template: str) -> str:
    """Every execution of one state machine (execution names are chosen at run time)."""
    return stack.format_arn(
        service="states",
        resource="execution",
        resource_name=f"{state_machine_name(env, template)}:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
