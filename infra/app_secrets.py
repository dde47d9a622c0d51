"""Third-party credentials in Secrets Manager: Slack signing secret, bot token, Anthropic key.

CloudFormation creates each secret with a random placeholder; the operator sets the real value
once after the first deploy (infra/README.md). Code reads them at run time with Powertools
Parameters (cached), from the ARN in ``<SETTING>_ARN`` -- ``SLACK_SIGNING_SECRET_ARN``,
``SLACK_BOT_TOKEN_ARN``, ``ANTHROPIC_API_KEY_ARN`` -- so no secret value is ever in a
function's or a task's environment configuration.
"""

from __future__ import annotations

from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.common import data_removal
from infra.settings import EnvSettings


class AppSecrets(Construct):
    def __init__(self, scope: Construct, id: str, *, settings: EnvSettings) -> None:
        super().__init__(scope, id)
        env = settings.env_name
        removal = data_removal(settings)

        def secret(construct_id: str, name: str, what: str) -> secretsmanager.Secret:
            return secretsmanager.Secret(
                self,
                construct_id,
                secret_name=f"autodev/{env}/{name}",
                description=f"{what} (set after deploy; see infra/README.md)",
                # A placeholder until the operator puts the real value.
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    exclude_punctuation=True, password_length=32
                ),
                removal_policy=removal,
            )

        self.slack_signing_secret = secret(
            "SlackSigningSecret", "slack-signing-secret", "Slack app signing secret"
        )
        self.slack_bot_token = secret("SlackBotToken", "slack-bot-token", "Slack bot token (xoxb-)")
        self.anthropic_api_key = secret(
            "AnthropicApiKey", "anthropic-api-key", "Anthropic API key for Claude Code"
        )

    @property
    def all(self) -> list[secretsmanager.Secret]:
        return [self.slack_signing_secret, self.slack_bot_token, self.anthropic_api_key]
