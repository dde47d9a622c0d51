"""Every ``functions/<name>/handler.py`` as a Lambda, sized and granted per its spec.

Each function: Python 3.13 on arm64, three layers (Powertools, dependencies, autodev), its own
role with only the statements its grants produce, X-Ray tracing, its own log group with the
environment's retention, and (where the spec says) reserved concurrency that caps the
connections it can open. Functions with database access run in the private subnets with a
security group that allows HTTPS out and Postgres to RDS Proxy only.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import common, naming
from infra.app_secrets import AppSecrets
from infra.data import Data
from infra.discovery import REPO_ROOT, camel_name, handler_folders
from infra.eventing import Eventing
from infra.function_specs import FunctionSpec, Grant, spec_for
from infra.layers import ARCHITECTURE, RUNTIME, Layers
from infra.settings import EnvSettings, access_environment
from infra.workers import Workers

# Actions that accept no resource narrower than "*" (see tests/infra/iam_policy_check.py).
_ENI_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]

# Grants to invoke another function: its folder, and the variable that names it for the code.
_INVOKE_TARGETS: dict[Grant, tuple[str, str]] = {
    Grant.INVOKE_SCALER: ("scaler", "AUTODEV_SCALER_FUNCTION"),
    Grant.INVOKE_DELIVERY: ("deliver_results", "AUTODEV_DELIVERY_FUNCTION"),
    Grant.INVOKE_SLACK_WORKER: ("slack_worker", "SLACK_WORKER_FUNCTION"),
}


class Functions(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: EnvSettings,
        layers: Layers,
        data: Data,
        secrets: AppSecrets,
        eventing: Eventing,
        workers: Workers,
        templates: list[str],
        root: Path = REPO_ROOT,
    ) -> None:
        super().__init__(scope, id)
        self._settings = settings
        self._data = data
        self._secrets = secrets
        self._eventing = eventing
        self._workers = workers
        self._templates = templates
        self.folders = handler_folders(root)
        self.functions: dict[str, lambda_.Function] = {}
        self.specs: dict[str, FunctionSpec] = {}

        self.security_group = data.client_security_group(
            self,
            "FunctionsSg",
            description="autodev functions: no inbound; HTTPS out; Postgres to RDS Proxy",
            https_for="HTTPS: Slack, webhooks, AWS APIs",
            client="autodev functions",
        )

        for folder in self.folders:
            spec, explicit = spec_for(folder)
            if not explicit:
                Annotations.of(self).add_warning_v2(
                    f"autodev:no-spec-{folder}",
                    f"functions/{folder} has no entry in infra/function_specs.py SPECS; "
                    "built with DEFAULT_SPEC (database access only)",
                )
            self.specs[folder] = spec
            self.functions[folder] = self._function(folder, spec, layers, root)

    # --- building one function ---

    def _function(
        self, folder: str, spec: FunctionSpec, layers: Layers, root: Path
    ) -> lambda_.Function:
        settings = self._settings
        env = settings.env_name
        camel = camel_name(folder)
        name = naming.function_name(env, folder)
        log_group = common.log_group(self, f"{camel}Logs", settings, f"/aws/lambda/{name}")
        role = iam.Role(
            self,
            f"{camel}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"autodev {folder}: only the grants in infra/function_specs.py",
        )
        log_group.grant_write(role)
        in_vpc = Grant.DATABASE in spec.grants
        if in_vpc:
            role.add_to_policy(iam.PolicyStatement(actions=_ENI_ACTIONS, resources=["*"]))
        function = lambda_.Function(
            self,
            camel,
            function_name=name,
            description=spec.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.handler",
            code=lambda_.Code.from_asset(
                str(root / "functions" / folder), exclude=["**/__pycache__", "**/*.pyc"]
            ),
            layers=layers.all,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            reserved_concurrent_executions=(
                spec.reserved_concurrency if settings.reserved_concurrency else None
            ),
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                **self._common_environment(),
                **(access_environment(settings) if spec.decides_access else {}),
                **spec.environment,
            },
            vpc=self._data.vpc if in_vpc else None,
            vpc_subnets=self._data.app_subnets if in_vpc else None,
            security_groups=[self.security_group] if in_vpc else None,
        )
        for grant in sorted(spec.grants):
            self._apply(grant, folder, function, role)
        if spec.events:
            events.Rule(
                self,
                f"{camel}Events",
                event_bus=self._eventing.bus,
                description=f"autodev events for {folder}",
                event_pattern=events.EventPattern(
                    source=["autodev"], detail_type=sorted(spec.events)
                ),
                targets=[targets.LambdaFunction(function, retry_attempts=2)],
            )
        return function

    def set_results_url(self, url: str) -> None:
        """AUTODEV_RESULTS_URL (the API's base URL) for links to ``/results/{id}``."""
        for function in self.functions.values():
            function.add_environment("AUTODEV_RESULTS_URL", url)

    def _common_environment(self) -> dict[str, str]:
        settings = self._settings
        stack = Stack.of(self)
        return {
            **common.runtime_environment(settings, self._eventing.bus.event_bus_name),
            "AUTODEV_STATE_MACHINE_ARN_PREFIX": naming.state_machine_arn_prefix(
                stack, settings.env_name
            ),
            "APPROVAL_TIMEOUT_SECONDS": str(settings.approval_timeout_seconds),
            "WORKFLOW_TIMEOUT_SECONDS": str(settings.workflow_timeout_seconds),
            "BUGFIX_MAX_FIX_ATTEMPTS": str(settings.max_fix_attempts),
            "WORKFLOW_MAP_CONCURRENCY": str(settings.map_max_concurrency),
            "ALERT_CHANNEL": settings.alert_channel,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            # Each execution environment serves one request at a time.
            "DB_POOL_MAX_SIZE": "1",
        }

    def _apply(self, grant: Grant, folder: str, function: lambda_.Function, role: iam.Role) -> None:
        stack = Stack.of(self)
        env = self._settings.env_name
        machines = [naming.state_machine_arn(stack, env, t) for t in self._templates]
        executions = [naming.executions_arn(stack, env, t) for t in self._templates]
        add_env = function.add_environment

        if grant is Grant.DATABASE:
            self._data.secret.grant_read(role)
            for key, value in self._data.connection_environment().items():
                add_env(key, value)
        elif grant is Grant.SLACK_SIGNING_SECRET:
            self._secrets.slack_signing_secret.grant_read(role)
            add_env("SLACK_SIGNING_SECRET_ARN", self._secrets.slack_signing_secret.secret_arn)
        elif grant is Grant.SLACK_BOT_TOKEN:
            self._secrets.slack_bot_token.grant_read(role)
            add_env("SLACK_BOT_TOKEN_ARN", self._secrets.slack_bot_token.secret_arn)
        elif grant is Grant.ANTHROPIC_API_KEY:
            self._secrets.anthropic_api_key.grant_read(role)
            add_env("ANTHROPIC_API_KEY_ARN", self._secrets.anthropic_api_key.secret_arn)
        elif grant is Grant.REPOSITORY_CREDENTIALS:
            role.add_to_policy(naming.repository_credentials_statement(stack, env))
            add_env("AUTODEV_REPO_SECRET_PREFIX", naming.repository_secret_prefix(env))
        elif grant is Grant.START_WORKFLOWS:
            if machines:
                role.add_to_policy(
                    iam.PolicyStatement(actions=["states:StartExecution"], resources=machines)
                )
        elif grant is Grant.READ_WORKFLOWS:
            if machines:
                role.add_to_policy(
                    iam.PolicyStatement(
                        actions=["states:DescribeStateMachine", "states:ListExecutions"],
                        resources=machines,
                    )
                )
                role.add_to_policy(
                    iam.PolicyStatement(
                        actions=["states:DescribeExecution", "states:GetExecutionHistory"],
                        resources=executions,
                    )
                )
        elif grant is Grant.STOP_WORKFLOWS:
            if executions:
                role.add_to_policy(
                    iam.PolicyStatement(actions=["states:StopExecution"], resources=executions)
                )
        elif grant is Grant.TASK_CALLBACKS:
            if machines:
                role.add_to_policy(
                    iam.PolicyStatement(
                        actions=list(common.TASK_CALLBACK_ACTIONS), resources=machines
                    )
                )
        elif grant is Grant.PUBLISH_EVENTS:
            bus: events.IEventBus = self._eventing.bus
            bus.grant_put_events_to(role)
        elif grant is Grant.RUN_WORKERS:
            for statement in self._workers.run_statements():
                role.add_to_policy(statement)
            for key, value in self._workers.run_environment().items():
                add_env(key, value)
        elif grant is Grant.INVOKE_SELF:
            self._allow_invoke(role, folder)
            add_env("AUTODEV_SELF_FUNCTION", naming.function_name(env, folder))
        elif grant in _INVOKE_TARGETS:
            target, variable = _INVOKE_TARGETS[grant]
            if target in self.folders:
                self._allow_invoke(role, target)
                add_env(variable, naming.function_name(env, target))
        elif grant is Grant.MANAGE_SCHEDULES:
            group = self._eventing.schedule_group_name
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=[
                        "scheduler:CreateSchedule",
                        "scheduler:UpdateSchedule",
                        "scheduler:DeleteSchedule",
                        "scheduler:GetSchedule",
                    ],
                    resources=[
                        stack.format_arn(
                            service="scheduler", resource="schedule", resource_name=f"{group}/*"
                        )
                    ],
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(actions=["scheduler:ListSchedules"], resources=["*"])
            )
            scheduler_role = self._eventing.workflow_scheduler_role
            scheduler_role.grant_pass_role(role)
            add_env("AUTODEV_SCHEDULE_GROUP", group)
            add_env("AUTODEV_SCHEDULER_ROLE_ARN", scheduler_role.role_arn)
        elif grant is Grant.CALL_MODEL:
            if self._settings.model_provider == "bedrock":
                role.add_to_policy(
                    iam.PolicyStatement(
                        actions=["bedrock:InvokeModel"],
                        resources=naming.anthropic_model_arns(stack),
                    )
                )
            else:
                self._secrets.anthropic_api_key.grant_read(role)
                add_env("ANTHROPIC_API_KEY_ARN", self._secrets.anthropic_api_key.secret_arn)
        elif grant is Grant.PROBE_MODEL:
            if self._settings.model_provider == "bedrock":
                # ListFoundationModels has no resource-level permissions.
                role.add_to_policy(
                    iam.PolicyStatement(actions=["bedrock:ListFoundationModels"], resources=["*"])
                )
            else:
                self._secrets.anthropic_api_key.grant_read(role)
                add_env("ANTHROPIC_API_KEY_ARN", self._secrets.anthropic_api_key.secret_arn)
        else:  # pragma: no cover - every Grant member has a branch above
            raise ValueError(f"no IAM mapping for grant {grant}")

    def _allow_invoke(self, role: iam.Role, target_folder: str) -> None:
        stack = Stack.of(self)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[naming.function_arn(stack, self._settings.env_name, target_folder)],
            )
        )
