"""Physical names and the ARNs built from them.

Functions and state machines get fixed names (``autodev-<env>-...``) so that their ARNs can be
formatted without a reference to the resource. That keeps grants between functions, state
machines and workers free of dependency cycles (a function may start a state machine that
invokes that same function), and gives people stable names in the console.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam


def function_name(env: str, folder: str) -> str:
    return f"autodev-{env}-{folder.replace('_', '-')}"


def state_machine_name(env: str, template: str) -> str:
    return f"autodev-{env}-{template}"


def _arn(stack: Stack, service: str, resource: str, name: str) -> str:
    return stack.format_arn(
        service=service,
        resource=resource,
        resource_name=name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def function_arn(stack: Stack, env: str, folder: str) -> str:
    return _arn(stack, "lambda", "function", function_name(env, folder))


def state_machine_arn(stack: Stack, env: str, template: str) -> str:
    return _arn(stack, "states", "stateMachine", state_machine_name(env, template))


def state_machine_arn_prefix(stack: Stack, env: str) -> str:
    """``arn:...:stateMachine:autodev-<env>-``; a template's ARN is this plus its name."""
    return _arn(stack, "states", "stateMachine", state_machine_name(env, ""))


def executions_arn(stack: Stack, env: str, template: str) -> str:
    """Every execution of one state machine (execution names are chosen at run time)."""
    return _arn(stack, "states", "execution", f"{state_machine_name(env, template)}:*")


def repository_secret_prefix(env: str) -> str:
    """The name every repository credentials secret starts with (``autodev repo add
    --credentials``): the workers and the functions that talk to repository hosts may read
    these secrets and no others."""
    return f"autodev/{env}/repositories/"


def repository_secrets_arn(stack: Stack, env: str) -> str:
    """The ARN pattern of every repository credentials secret (Secrets Manager appends a
    random suffix to a secret's name, hence the wildcard)."""
    return _arn(stack, "secretsmanager", "secret", f"{repository_secret_prefix(env)}*")


def org_secret_prefix(env: str) -> str:
    """The name every Salesforce org's auth URL secret starts with (``autodev org add
    --auth-url-secret``): the workers may read these secrets and no others."""
    return f"autodev/{env}/orgs/"


def org_auth_url_statement(stack: Stack, env: str) -> iam.PolicyStatement:
    """Read the registered orgs' SFDX auth URL secrets (the workers' tool steps log in)."""
    return iam.PolicyStatement(
        actions=["secretsmanager:GetSecretValue"],
        resources=[_arn(stack, "secretsmanager", "secret", f"{org_secret_prefix(env)}*")],
    )


def repository_credentials_statement(stack: Stack, env: str) -> iam.PolicyStatement:
    """Read the repositories' credentials secrets (and nothing else of Secrets Manager)."""
    return iam.PolicyStatement(
        actions=["secretsmanager:GetSecretValue"],
        resources=[repository_secrets_arn(stack, env)],
    )


def anthropic_model_arns(stack: Stack) -> list[str]:
    """Anthropic models on Bedrock, in any region (cross-region inference routes there), and
    the account's inference profiles of them."""
    return [
        stack.format_arn(
            service="bedrock",
            region="*",
            account="",
            resource="foundation-model",
            resource_name="anthropic.*",
        ),
        stack.format_arn(
            service="bedrock", resource="inference-profile", resource_name="*anthropic.*"
        ),
    ]
