"""Database migrations at deploy time: a Trigger function that runs ``Migrator.up()``.

It runs after the database and the proxy exist, on every deploy in which the function changes;
the digest of the migration files is part of its environment, so a new migration changes the
function and runs it. A failed migration fails the deploy (and CloudFormation rolls back).
"""

from __future__ import annotations

import hashlib

from aws_cdk import Duration, triggers
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import common
from infra.data import Data
from infra.discovery import REPO_ROOT, migrations_dir
from infra.functions import _ENI_ACTIONS
from infra.layers import ARCHITECTURE, RUNTIME, Layers
from infra.settings import EnvSettings


def migrations_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(migrations_dir().glob("*.sql")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class Migrations(Construct):
    def __init__(
        self, scope: Construct, id: str, *, settings: EnvSettings, data: Data, layers: Layers
    ) -> None:
        super().__init__(scope, id)
        name = f"autodev-{settings.env_name}-migrate"
        security_group = data.client_security_group(
            self,
            "Sg",
            description="autodev migrations: HTTPS out (Secrets Manager), Postgres to proxy",
            https_for="AWS APIs",
            client="the migration trigger",
        )
        log_group = common.log_group(self, "Logs", settings, f"/aws/lambda/{name}")
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="autodev migration trigger: database secret and its log group",
        )
        log_group.grant_write(role)
        role.add_to_policy(iam.PolicyStatement(actions=_ENI_ACTIONS, resources=["*"]))
        data.secret.grant_read(role)
        self.function = triggers.TriggerFunction(
            self,
            "Migrate",
            function_name=name,
            description="Runs autodev's database migrations at deploy time",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.handler",
            code=lambda_.Code.from_asset(
                str(REPO_ROOT / "infra" / "runtime" / "migrate"),
                exclude=["**/__pycache__", "**/*.pyc"],
            ),
            layers=layers.all,
            memory_size=512,
            timeout=Duration.minutes(5),
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            vpc=data.vpc,
            vpc_subnets=data.app_subnets,
            security_groups=[security_group],
            environment={
                **data.connection_environment(),
                "MIGRATIONS_DIGEST": migrations_digest(),
                **common.observability_environment(settings),
            },
            execute_after=[data.instance, data.proxy],
            execute_on_handler_change=True,
        )
