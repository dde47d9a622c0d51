"""The autodev stack: every concern's construct, composed in dependency order.

One stack, because the parts reference each other tightly (functions <-> state machines <->
workers through names and grants) and deploy together; splitting would buy cross-stack
exports and nothing else at this size.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from infra import naming
from infra.api import Api
from infra.app_secrets import AppSecrets
from infra.data import Data
from infra.discovery import REPO_ROOT, workflow_files
from infra.eventing import Eventing
from infra.functions import Functions
from infra.layers import Layers
from infra.migrations import Migrations
from infra.monitoring import Monitoring
from infra.nag import suppress
from infra.settings import EnvSettings
from infra.workers import Workers
from infra.workflows import Workflows


class AutodevStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: EnvSettings,
        root: Path = REPO_ROOT,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, description=f"autodev ({settings.env_name})", **kwargs)  # type: ignore[arg-type]
        # DBProxyTargetGroup takes no Tags in CloudFormation, although CDK thinks it does.
        untaggable = ["AWS::RDS::DBProxyTargetGroup"]
        Tags.of(self).add("project", "autodev", exclude_resource_types=untaggable)
        Tags.of(self).add("environment", settings.env_name, exclude_resource_types=untaggable)
        env = settings.env_name
        self.settings = settings
        templates = [workflow.template for workflow in workflow_files(root)]
        machine_arns = [naming.state_machine_arn(self, env, t) for t in templates]

        self.data = Data(self, "Data", settings=settings)
        self.secrets = AppSecrets(self, "Secrets", settings=settings)
        self.layers = Layers(self, "Layers", settings=settings)
        self.eventing = Eventing(self, "Eventing", settings=settings)
        self.workers = Workers(
            self,
            "Workers",
            settings=settings,
            data=self.data,
            model_key=self.secrets.anthropic_api_key,
            slack_bot_token=self.secrets.slack_bot_token,
            bus=self.eventing.bus,
            state_machine_arns=machine_arns,
            root=root,
        )
        self.functions = Functions(
            self,
            "Functions",
            settings=settings,
            layers=self.layers,
            data=self.data,
            secrets=self.secrets,
            eventing=self.eventing,
            workers=self.workers,
            templates=templates,
            root=root,
        )
        self.workflows = Workflows(
            self,
            "Workflows",
            settings=settings,
            functions=self.functions.functions,
            bus=self.eventing.bus,
            root=root,
        )
        self.eventing.allow_scheduled_starts(machine_arns)
        for folder, function in self.functions.functions.items():
            spec = self.functions.specs[folder]
            if spec.schedule:
                construct_id = "".join(p.capitalize() for p in folder.split("_")) + "Schedule"
                self.eventing.schedule_function(construct_id, function, spec.schedule)
        self.api = Api(self, "Api", settings=settings, functions=self.functions.functions)
        self.functions.set_results_url(self.api.base_url())
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            settings=settings,
            functions=self.functions.functions,
            state_machines=self.workflows.state_machines,
            rest_api=self.api.rest_api,
            database=self.data.instance,
        )
        self.migrations = Migrations(
            self, "Migrations", settings=settings, data=self.data, layers=self.layers
        )

        CfnOutput(self, "ApiUrl", value=self.api.url, description="Base of the Slack request URLs")
        CfnOutput(self, "SlackCommandsUrl", value=f"{self.api.url}slack/commands")
        CfnOutput(self, "SlackInteractionsUrl", value=f"{self.api.url}slack/interactions")
        CfnOutput(self, "SlackEventsUrl", value=f"{self.api.url}slack/events")
        CfnOutput(self, "EventBusName", value=self.eventing.bus.event_bus_name)
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)
        for construct_id, secret in (
            ("SlackSigningSecretArn", self.secrets.slack_signing_secret),
            ("SlackBotTokenArn", self.secrets.slack_bot_token),
            ("AnthropicApiKeyArn", self.secrets.anthropic_api_key),
        ):
            CfnOutput(self, construct_id, value=secret.secret_arn)

        suppress(self)
