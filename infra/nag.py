"""cdk-nag AwsSolutions acknowledgments (cdk-nag 3: ``Validations.of(...).acknowledge``).

Each one names the construct it covers and why the finding is acceptable here. Nothing is
acknowledged stack-wide: a new resource that trips a rule fails the synth until someone
decides about it. The same reasons are listed in infra/README.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

from infra.function_specs import Grant
from infra.naming import org_secret_prefix, repository_secret_prefix

if TYPE_CHECKING:
    from infra.stack import AutodevStack

RUNTIME_REASON = (
    "Python 3.13 on purpose: pyproject.toml pins requires-python <3.14, so uv.lock (and the "
    "dependency layer built from it) is resolved and tested for 3.13 at most; 3.14 follows "
    "when the project moves."
)
WILDCARD_REASONS = {
    "models": "Bedrock mode only: autodev's own model calls (answers, summaries, memories) may "
    "invoke Anthropic models in any region (cross-region inference) and their inference "
    "profiles, nothing else.",
    "xray": "xray:PutTraceSegments/PutTelemetryRecords accept no resource but '*' (tracing).",
    "eni": "Lambda in a VPC: ec2 network-interface actions accept no narrower resource.",
    "logs-delivery": "Step Functions log delivery: logs:*LogDelivery*/Describe* need '*'.",
    "list-schedules": "scheduler:ListSchedules accepts no resource but '*'.",
    "executions": "Execution names are chosen at run time; scoped to autodev's own machines.",
    "schedules": "Schedule names are chosen at run time; scoped to the autodev-<env> group.",
    "list-models": "bedrock:ListFoundationModels (the model health check, Bedrock mode) has "
    "no resource-level permissions.",
    "task-definitions": "Every revision of the worker task definition family (RunTask by "
    "family runs the latest); also conditioned on the autodev cluster.",
    "tasks": "Worker task ids are assigned by ECS at run time; scoped to the autodev cluster "
    "and conditioned on it.",
    "org-secrets": "Salesforce orgs are registered at run time (autodev org add "
    "--auth-url-secret ARN); GetSecretValue only, scoped to the autodev/<env>/orgs/ name prefix "
    "(Secrets Manager appends a random suffix to every name).",
    "repository-secrets": "Repository credentials are registered at run time (autodev repo add "
    "--credentials ARN); GetSecretValue only, scoped to the autodev/<env>/repositories/ name "
    "prefix (Secrets Manager appends a random suffix to every name).",
}


def _ack(construct: IConstruct, rule: str, reason: str) -> None:
    Validations.of(construct).acknowledge(
        Acknowledgment(id=f"AwsSolutions::AwsSolutions-{rule}", reason=reason)
    )


def suppress(stack: AutodevStack) -> None:
    settings = stack.settings
    api = stack.api

    # --- API: Slack cannot present AWS credentials or Cognito tokens ---
    for key, method in api.routes.items():
        if key.startswith("POST /slack/"):
            reason = (
                "Slack request URL: Slack signs each request (HMAC-SHA256 with the signing "
                "secret), which the handler verifies before anything else; API Gateway "
                "already rejects requests without the signature headers."
            )
            _ack(method, "APIG4", reason)
            _ack(method, "COG4", reason)
        elif key == "GET /health":
            reason = (
                "Health endpoint for uptime monitors, which cannot sign requests: it answers "
                "each check's name, state and latency only (no details, no data); WAF "
                "rate-limits it like every route."
            )
            _ack(method, "APIG4", reason)
            _ack(method, "COG4", reason)
        else:
            _ack(method, "COG4", "IAM (SigV4) authorization instead of a Cognito user pool.")
    cloud_watch_role = api.rest_api.node.try_find_child("CloudWatchRole")
    if cloud_watch_role is not None:
        _ack(
            cloud_watch_role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level role API Gateway needs for execution logs; the AWS-managed "
            "policy is the documented one and covers only CloudWatch Logs.",
        )

    # --- database ---
    database = stack.data.instance
    if not settings.db_multi_az:
        _ack(database, "RDS3", "dev only: single-AZ to save cost; prod sets dbMultiAz=true.")
    if not settings.db_deletion_protection:
        _ack(database, "RDS10", "dev only: deletable with the stack; prod has protection.")
    _ack(
        database,
        "RDS11",
        "Default port: the instance is in isolated subnets and admits only RDS Proxy's "
        "security group; a changed port would add no real barrier.",
    )

    # --- third-party secrets: issued and rotated by Slack and Anthropic ---
    for secret in stack.secrets.all:
        _ack(
            secret,
            "SMG4",
            "Issued by a third party (Slack, Anthropic), which has no rotation API for "
            "Secrets Manager; operators rotate at the issuer, then put-secret-value.",
        )

    # --- workers: only non-secret settings in the environment ---
    _ack(
        stack.workers.task_definition,
        "ECS2",
        "Only non-secret configuration is in the environment; secrets are passed as ARNs "
        "and read at run time, so no value shows in the task definition or its env.",
    )

    execution_role = stack.workers.task_definition.execution_role
    if execution_role is not None and stack.workers.image_is_asset:
        _ack(
            execution_role,
            "IAM5[Resource::*]",
            "ecr:GetAuthorizationToken (pulling the worker image) accepts no resource but '*'; "
            "the pull itself is scoped to the image's repository.",
        )

    bedrock_role = stack.workers.bedrock_role
    if bedrock_role is not None:
        reason = (
            "Bedrock mode only: Anthropic models in any region (cross-region inference "
            "routes there) and inference profiles of Anthropic models; the role can do "
            "nothing else and is assumed per agent session."
        )
        _ack(
            bedrock_role,
            "IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/anthropic.*]",
            reason,
        )
        _ack(
            bedrock_role,
            "IAM5[Resource::arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:"
            "inference-profile/*anthropic.*]",
            reason,
        )

    # --- Lambda runtime ---
    for function in stack.functions.functions.values():
        _ack(function, "L1", RUNTIME_REASON)
    _ack(stack.migrations.function, "L1", RUNTIME_REASON)

    # --- wildcard resources that have no narrower form (also checked by tests/infra) ---
    for function in stack.functions.functions.values():
        role = function.role
        assert role is not None
        _ack(
            role,
            "IAM5[Resource::*]",
            f"{WILDCARD_REASONS['xray']} {WILDCARD_REASONS['eni']} "
            f"{WILDCARD_REASONS['list-schedules']} {WILDCARD_REASONS['list-models']}",
        )
    _ack(
        stack.migrations.function.role or stack.migrations,
        "IAM5[Resource::*]",
        f"{WILDCARD_REASONS['xray']} {WILDCARD_REASONS['eni']}",
    )
    for machine in stack.workflows.state_machines.values():
        _ack(
            machine.role,
            "IAM5[Resource::*]",
            f"{WILDCARD_REASONS['xray']} {WILDCARD_REASONS['logs-delivery']}",
        )
    prefix = "IAM5[Resource::arn:<AWS::Partition>"
    env = settings.env_name
    repository_secrets = (
        f"{prefix}:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:"
        f"{repository_secret_prefix(env)}*]"
    )
    _ack(
        stack.workers.task_definition.task_role,
        repository_secrets,
        WILDCARD_REASONS["repository-secrets"],
    )
    _ack(
        stack.workers.task_definition.task_role,
        f"{prefix}:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:{org_secret_prefix(env)}*]",
        WILDCARD_REASONS["org-secrets"],
    )
    for folder, function in stack.functions.functions.items():
        grants = stack.functions.specs[folder].grants
        role = function.role
        assert role is not None
        if grants & {Grant.READ_WORKFLOWS, Grant.STOP_WORKFLOWS}:
            for template in stack.workflows.state_machines:
                _ack(
                    role,
                    f"{prefix}:states:<AWS::Region>:<AWS::AccountId>:execution:"
                    f"autodev-{env}-{template}:*]",
                    WILDCARD_REASONS["executions"],
                )
        if Grant.REPOSITORY_CREDENTIALS in grants:
            _ack(role, repository_secrets, WILDCARD_REASONS["repository-secrets"])
        if Grant.CALL_MODEL in grants and settings.model_provider == "bedrock":
            for resource in (
                "bedrock:*::foundation-model/anthropic.*",
                "bedrock:<AWS::Region>:<AWS::AccountId>:inference-profile/*anthropic.*",
            ):
                _ack(role, f"{prefix}:{resource}]", WILDCARD_REASONS["models"])
        if Grant.MANAGE_SCHEDULES in grants:
            _ack(
                role,
                f"{prefix}:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/autodev-{env}/*]",
                WILDCARD_REASONS["schedules"],
            )
        if Grant.RUN_WORKERS in grants:
            cluster = stack.workers.cluster_name
            for resource, reason in (
                (f"task-definition/{stack.workers.family}:*", WILDCARD_REASONS["task-definitions"]),
                (f"task/{cluster}/*", WILDCARD_REASONS["tasks"]),
                (f"container-instance/{cluster}/*", WILDCARD_REASONS["tasks"]),
            ):
                _ack(
                    role,
                    f"{prefix}:ecs:<AWS::Region>:<AWS::AccountId>:{resource}]",
                    reason,
                )
