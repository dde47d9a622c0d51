"""Claude Code workers: an ECS cluster and the Fargate task definition the scaler runs.

The image is built from ``functions/claude_worker/Dockerfile`` with the repository root as the
build context (the worker installs the autodev package from ``layers/``), as an image asset:
``cdk synth`` only stages the context, ``cdk deploy`` builds and pushes it.

Isolation of the agent (Claude Code runs arbitrary tools in its workspace):
- The security group admits nothing inbound; outbound it allows HTTPS (Anthropic, Slack, AWS
  APIs, git over https) and Postgres to RDS Proxy only.
- The task role can do only what the worker's own code does: answer Step Functions task
  tokens of autodev's state machines (SendTaskSuccess/Failure/Heartbeat), read its two secrets
  (the Anthropic key and the Slack bot token: the construct is given those two, not the Slack
  signing secret, which only the Slack handlers verify with), the database secret and the
  repositories' credentials secrets (``autodev/<env>/repositories/*``, which the worker hands
  to git through a credential helper of its own, never to the agent), and publish autodev
  events. Nothing else is reachable with it.
- Inside the container the worker runs as root only so that it can start each Claude Code
  session as the image's unprivileged ``agent`` user (``autodev.orchestrator.containment``):
  the agent cannot read the worker's process, files or credentials, writes only its
  workspace, and dies with the worker. The container keeps only the capabilities that needs
  (switching users, signalling the agent's processes, handing workspaces over and back); the
  others Docker grants by default are dropped. An init process reaps what the agent leaves.
- The credentials/metadata endpoint: Fargate has no EC2 instance metadata service
  (169.254.169.254), so ``ECS_AWSVPC_BLOCK_IMDS`` (an EC2-launch-type agent setting) does not
  apply. What remains is the task metadata and credentials endpoint (169.254.170.2), which a
  process can use only with the URIs ECS puts in the container's environment
  (``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI``, ``ECS_CONTAINER_METADATA_URI(_V4)``). The
  worker's entry point starts Claude Code with a scrubbed environment that leaves those out
  (and every secret), so the agent has neither the task role's credentials nor the database
  password; and even with them it would hold only the minimal role above.
- Secrets are not injected as environment variables: the container gets their ARNs and the
  worker reads them at run time (Powertools Parameters), so ``docker inspect``-style views of
  the task show no secret value.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations, ArnFormat, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import common, naming
from infra.data import Data
from infra.discovery import REPO_ROOT, worker_dockerfile
from infra.settings import EnvSettings

CONTAINER_NAME = "worker"
# Docker's default capabilities the worker does not use. It keeps CHOWN, DAC_OVERRIDE, FOWNER
# (workspaces handed to the agent's user and taken back), SETUID, SETGID (starting the agent as
# that user) and KILL (ending the agent's processes). Fargate lets a task drop capabilities but
# add only SYS_PTRACE, so the list names what goes.
DROPPED_CAPABILITIES = (
    ecs.Capability.AUDIT_WRITE,
    ecs.Capability.FSETID,
    ecs.Capability.MKNOD,
    ecs.Capability.NET_BIND_SERVICE,
    ecs.Capability.NET_RAW,
    ecs.Capability.SETFCAP,
    ecs.Capability.SETPCAP,
    ecs.Capability.SYS_CHROOT,
)

# Kept out of the image build context (the repository root): large, local or irrelevant, and
# the local stack's stand-ins (autodev.local), which the worker must not ship. The same list
# is the repository's .dockerignore, for a plain ``docker build`` (a test keeps them equal).
LOCAL_PACKAGE = "layers/autodev/python/autodev/local"
DOCKER_EXCLUDES = [
    ".git",
    ".venv",
    "node_modules",
    "cdk.out",
    ".autodev",
    "**/__pycache__",
    "**/*.pyc",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "bench-results.json",
    "tests",
    "infra",
    ".ci",
    "docs",
    "slack",
    "cdk.json",
    LOCAL_PACKAGE,
]


class Workers(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: EnvSettings,
        data: Data,
        model_key: secretsmanager.ISecret,
        slack_bot_token: secretsmanager.ISecret,
        bus: events.IEventBus,
        state_machine_arns: list[str],
        root: Path = REPO_ROOT,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        env = settings.env_name
        self.cluster_name = f"autodev-{env}"
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=data.vpc,
            cluster_name=self.cluster_name,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        self.security_group = data.client_security_group(
            self,
            "WorkerSg",
            description="autodev Claude Code workers: no inbound; HTTPS out; Postgres to proxy",
            https_for="HTTPS: Anthropic, Slack, AWS APIs, git",
            client="Claude Code workers",
        )
        self.subnets = data.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)

        self.log_group = common.log_group(self, "Logs", settings, f"/autodev/{env}/workers")
        self.family = f"autodev-{env}-worker"
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            family=self.family,
            cpu=settings.worker_cpu,
            memory_limit_mib=settings.worker_memory_mib,
            ephemeral_storage_gib=50,  # workspaces: a checkout plus build output
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=(
                    ecs.CpuArchitecture.ARM64
                    if settings.worker_architecture == "arm64"
                    else ecs.CpuArchitecture.X86_64
                ),
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        image = _image(self, root, settings.worker_architecture)
        self.image_is_asset = worker_dockerfile(root).exists()
        environment = {
            **common.runtime_environment(settings, bus.event_bus_name),
            "ANTHROPIC_API_KEY_ARN": model_key.secret_arn,
            "SLACK_BOT_TOKEN_ARN": slack_bot_token.secret_arn,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            # A finished task's result deliveries are sent now by the delivery function
            # (kicked asynchronously), not by the worker itself.
            "AUTODEV_DELIVERY_FUNCTION": naming.function_name(env, "deliver_results"),
            **data.connection_environment(),
        }
        self.container = self.task_definition.add_container(
            CONTAINER_NAME,
            container_name=CONTAINER_NAME,
            image=image,
            environment=environment,
            logging=ecs.LogDriver.aws_logs(stream_prefix="worker", log_group=self.log_group),
            stop_timeout=Duration.seconds(120),  # finish the heartbeat / fail the task cleanly
            essential=True,
            linux_parameters=self._linux_parameters(),
        )

        task_role = self.task_definition.task_role
        if state_machine_arns:
            task_role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=list(common.TASK_CALLBACK_ACTIONS), resources=state_machine_arns
                )
            )
        model_key.grant_read(task_role)
        slack_bot_token.grant_read(task_role)
        # Clone and push (through the worker's own git credential helper, never the agent's
        # environment): the repositories' credentials secrets, by their naming prefix only.
        task_role.add_to_principal_policy(naming.repository_credentials_statement(stack, env))
        self.container.add_environment(
            "AUTODEV_REPO_SECRET_PREFIX", naming.repository_secret_prefix(env)
        )
        # The tool steps log in to a registered org (autodev.salesforce.steps) with its SFDX auth
        # URL, read by the worker into a config directory of the step's own: by prefix only.
        task_role.add_to_principal_policy(naming.org_auth_url_statement(stack, env))
        self.container.add_environment("AUTODEV_ORG_SECRET_PREFIX", naming.org_secret_prefix(env))
        data.secret.grant_read(task_role)
        bus.grant_put_events_to(task_role)
        task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[naming.function_arn(Stack.of(self), env, "deliver_results")],
            )
        )
        self.bedrock_role: iam.Role | None = None
        if settings.model_provider == "bedrock":
            # Assumed by the worker for each agent session (AUTODEV_BEDROCK_ROLE_ARN): the
            # session's short-lived credentials can invoke models and nothing else.
            self.bedrock_role = iam.Role(
                self,
                "BedrockModelRole",
                assumed_by=iam.ArnPrincipal(task_role.role_arn),
                description="autodev agent sessions: invoke Anthropic models on Bedrock only",
                max_session_duration=Duration.hours(1),
            )
            self.bedrock_role.add_to_policy(
                iam.PolicyStatement(
                    actions=["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
                    resources=naming.anthropic_model_arns(stack),
                )
            )
            self.bedrock_role.grant_assume_role(task_role)
            self.container.add_environment("AUTODEV_BEDROCK_ROLE_ARN", self.bedrock_role.role_arn)

    def _linux_parameters(self) -> ecs.LinuxParameters:
        parameters = ecs.LinuxParameters(self, "Linux", init_process_enabled=True)
        parameters.drop_capabilities(*DROPPED_CAPABILITIES)
        return parameters

    # --- what the scaler needs to run, count and stop workers ---

    def run_statements(self) -> list[iam.PolicyStatement]:
        stack = Stack.of(self)
        cluster_condition = {"ArnEquals": {"ecs:cluster": self.cluster.cluster_arn}}
        task_definitions = stack.format_arn(
            service="ecs",
            resource="task-definition",
            resource_name=f"{self.family}:*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        tasks = stack.format_arn(
            service="ecs",
            resource="task",
            resource_name=f"{self.cluster_name}/*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        container_instances = stack.format_arn(
            service="ecs",
            resource="container-instance",
            resource_name=f"{self.cluster_name}/*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        roles = [self.task_definition.task_role.role_arn]
        if self.task_definition.execution_role is not None:
            roles.append(self.task_definition.execution_role.role_arn)
        return [
            iam.PolicyStatement(
                actions=["ecs:RunTask"], resources=[task_definitions], conditions=cluster_condition
            ),
            iam.PolicyStatement(
                actions=["ecs:DescribeTasks", "ecs:StopTask"],
                resources=[tasks],
                conditions=cluster_condition,
            ),
            # RunTask with propagateTags tags the new task, which ECS authorises separately.
            iam.PolicyStatement(
                actions=["ecs:TagResource"],
                resources=[tasks],
                conditions={"StringEquals": {"ecs:CreateAction": "RunTask"}},
            ),
            iam.PolicyStatement(
                actions=["ecs:ListTasks"],
                resources=[container_instances],
                conditions=cluster_condition,
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=roles,
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            ),
        ]

    def run_environment(self) -> dict[str, str]:
        """The orchestrator settings (autodev.config) the scaler reads."""
        return {
            "AUTODEV_WORKER_LAUNCHER": "ecs",
            "AUTODEV_ECS_CLUSTER": self.cluster_name,
            "AUTODEV_ECS_TASK_DEFINITION": self.family,
            "AUTODEV_ECS_CONTAINER": CONTAINER_NAME,
            "AUTODEV_ECS_SUBNETS": ",".join(self.subnets.subnet_ids),
            "AUTODEV_ECS_SECURITY_GROUPS": self.security_group.security_group_id,
        }


def _image(scope: Construct, root: Path, architecture: str) -> ecs.ContainerImage:
    dockerfile = worker_dockerfile(root)
    if not dockerfile.exists():
        # Until the orchestrator's Dockerfile lands, synth still works; deploy would run a
        # placeholder that exits, which the warning makes plain.
        Annotations.of(scope).add_warning_v2(
            "autodev:worker-dockerfile-missing",
            f"{dockerfile.relative_to(root)} is missing: the worker uses a placeholder image",
        )
        return ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/busybox:stable")
    asset = ecr_assets.DockerImageAsset(
        scope,
        "Image",
        directory=str(root),
        file=str(dockerfile.relative_to(root)),
        exclude=DOCKER_EXCLUDES,
        platform=(
            ecr_assets.Platform.LINUX_ARM64
            if architecture == "arm64"
            else ecr_assets.Platform.LINUX_AMD64
        ),
    )
    return ecs.ContainerImage.from_docker_image_asset(asset)
