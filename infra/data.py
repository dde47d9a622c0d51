"""Network and database: the VPC, RDS for PostgreSQL behind RDS Proxy, credentials rotation.

- The database sits in isolated subnets, is never publicly accessible, is encrypted at rest,
  takes automated backups and, in prod, has deletion protection and Multi-AZ. Its parameter
  group sets ``rds.force_ssl=1`` so no client can connect without TLS.
- Functions and workers reach it only through RDS Proxy (TLS required), whose security group
  admits port 5432 from the security groups this construct hands out
  (``client_security_group``).
- The master credentials are generated into Secrets Manager and rotated (single user) on a
  schedule; clients read the secret at run time (``DATABASE_SECRET_ARN``), never from env.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra import common
from infra.settings import EnvSettings

DATABASE_NAME = "autodev"
DATABASE_PORT = 5432
_LOG_EXPORTS = ("postgresql", "upgrade")


class Data(Construct):
    def __init__(self, scope: Construct, id: str, *, settings: EnvSettings) -> None:
        super().__init__(scope, id)
        env = settings.env_name
        flow_log_group = common.log_group(self, "FlowLogs", settings)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=settings.max_azs,
            nat_gateways=settings.nat_gateways,
            # The default security group is unused; restricting it needs a custom-resource
            # Lambda that adds more than it protects here.
            restrict_default_security_group=False,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                ),
                # Functions and workers: outbound through NAT (Slack, Anthropic, AWS APIs).
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                ),
                # The database: no route out at all.
                ec2.SubnetConfiguration(
                    name="database", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=26
                ),
            ],
            flow_logs={
                "all": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
                    traffic_type=ec2.FlowLogTrafficType.REJECT,
                )
            },
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
        )
        self.app_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)

        self.db_security_group = ec2.SecurityGroup(
            self,
            "DatabaseSg",
            vpc=self.vpc,
            description="autodev Postgres: 5432 from RDS Proxy and the rotation function only",
            allow_all_outbound=False,
        )
        self.proxy_security_group = ec2.SecurityGroup(
            self,
            "ProxySg",
            vpc=self.vpc,
            description="autodev RDS Proxy: 5432 from autodev functions and workers only",
            allow_all_outbound=False,
        )
        self.proxy_security_group.add_egress_rule(
            self.db_security_group, ec2.Port.tcp(DATABASE_PORT), "to the database"
        )
        self.db_security_group.add_ingress_rule(
            self.proxy_security_group, ec2.Port.tcp(DATABASE_PORT), "from RDS Proxy"
        )

        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=_ENGINE,
            description="autodev: TLS required, slow statements logged",
            parameters={
                "rds.force_ssl": "1",
                "log_min_duration_statement": "1000",
                # Never log statement text with parameters: task payloads may hold code.
                "log_statement": "ddl",
            },
        )
        self.instance = rds.DatabaseInstance(
            self,
            "Postgres",
            engine=_ENGINE,
            instance_type=ec2.InstanceType(settings.db_instance_class),
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[self.db_security_group],
            publicly_accessible=False,
            port=DATABASE_PORT,
            database_name=DATABASE_NAME,
            credentials=rds.Credentials.from_generated_secret(
                "autodev", secret_name=f"autodev/{env}/database"
            ),
            parameter_group=parameters,
            storage_encrypted=True,
            storage_type=rds.StorageType.GP3,
            allocated_storage=settings.db_allocated_storage_gb,
            max_allocated_storage=settings.db_max_allocated_storage_gb,
            multi_az=settings.db_multi_az,
            backup_retention=Duration.days(settings.db_backup_retention_days),
            deletion_protection=settings.db_deletion_protection,
            removal_policy=RemovalPolicy.SNAPSHOT
            if settings.retain_data
            else RemovalPolicy.DESTROY,
            delete_automated_backups=not settings.retain_data,
            auto_minor_version_upgrade=True,
            iam_authentication=True,
            instance_identifier=f"autodev-{env}",
            cloudwatch_logs_exports=list(_LOG_EXPORTS),
            enable_performance_insights=True,
            copy_tags_to_snapshot=True,
        )
        # The exported logs' groups, made here with their retention (cloudwatch_logs_retention
        # would add a custom-resource Lambda to set it afterwards).
        for export in _LOG_EXPORTS:
            name = f"/aws/rds/instance/autodev-{env}/{export}"
            group = common.log_group(self, f"{export.capitalize()}Logs", settings, name)
            self.instance.node.add_dependency(group)
        secret = self.instance.secret
        assert secret is not None  # from_generated_secret always makes one
        self.secret = secret

        # Rotation runs in the private subnets, which reach the Secrets Manager API via NAT.
        self.instance.add_rotation_single_user(
            automatically_after=Duration.days(settings.db_rotation_days),
            vpc_subnets=self.app_subnets,
        )

        self.proxy = self.instance.add_proxy(
            "Proxy",
            vpc=self.vpc,
            vpc_subnets=self.app_subnets,
            secrets=[self.secret],
            security_groups=[self.proxy_security_group],
            require_tls=True,
            db_proxy_name=f"autodev-{env}",
            # Clients of a small instance: leave headroom for rotation and maintenance.
            max_connections_percent=80,
            idle_client_timeout=Duration.minutes(10),
        )

    def client_security_group(
        self, scope: Construct, id: str, *, description: str, https_for: str, client: str
    ) -> ec2.SecurityGroup:
        """A client's group: nothing inbound; out, HTTPS anywhere and Postgres to the proxy only."""
        group = ec2.SecurityGroup(
            scope, id, vpc=self.vpc, description=description, allow_all_outbound=False
        )
        group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), https_for)
        postgres = ec2.Port.tcp(DATABASE_PORT)
        self.proxy_security_group.add_ingress_rule(group, postgres, f"from {client}")
        group.add_egress_rule(self.proxy_security_group, postgres, "to RDS Proxy")
        return group

    @property
    def proxy_endpoint(self) -> str:
        return self.proxy.endpoint

    def connection_environment(self) -> dict[str, str]:
        """What a client needs to build its URL; the password stays in the secret."""
        return {
            "DATABASE_SECRET_ARN": self.secret.secret_arn,
            "DATABASE_HOST": self.proxy.endpoint,
            "DATABASE_PORT": str(DATABASE_PORT),
            "DATABASE_NAME": DATABASE_NAME,
            # RDS Proxy pins a session that prepares statements (autodev.db.pool).
            "DB_PREPARED_STATEMENTS": "false",
        }


_ENGINE = rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_9)
