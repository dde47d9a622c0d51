"""The ECS launcher against moto's ECS (in-process, no sockets): RunTask, counting, and
whether a worker's task still runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from autodev.config import load_settings
from autodev.orchestrator.launchers import STARTED_BY, EcsLauncher, LaunchFailed, worker_alive
from autodev.orchestrator.registry import WorkerRecord


@pytest.fixture
def ecs(fake_aws_env: pytest.MonkeyPatch) -> Iterator[tuple[str, str, str]]:
    # moto 5.2's RunTask with awsvpc networking reads an attribute its network interfaces lack.
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    fake_aws_env.setattr(
        NetworkInterface, "private_dns_name", "ip-10-0-1-10.ec2.internal", raising=False
    )
    with mock_aws():
        client = boto3.client("ecs", region_name="us-east-1")
        client.create_cluster(clusterName="autodev")
        client.register_task_definition(
            family="autodev-worker",
            containerDefinitions=[{"name": "worker", "image": "worker:latest", "memory": 512}],
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
        )
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="w", Description="w", VpcId=vpc)["GroupId"]
        yield "autodev", subnet, group


def test_launches_tagged_tasks_and_counts_only_its_own(ecs: tuple[str, str, str]) -> None:
    cluster, subnet, group = ecs
    settings = load_settings(
        autodev_ecs_cluster=cluster,
        autodev_ecs_task_definition="autodev-worker",
        autodev_ecs_subnets=subnet,
        autodev_ecs_security_groups=group,
    )
    launcher = EcsLauncher(settings)
    assert launcher.running() == 0
    started = launcher.launch(12)  # more than one RunTask call can start
    assert len(started) == 12
    boto3.client("ecs", region_name="us-east-1").run_task(
        cluster=cluster,
        taskDefinition="autodev-worker",
        count=1,
        startedBy="someone-else",
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}
        },
    )
    assert launcher.running() == 12
    tasks = boto3.client("ecs", region_name="us-east-1").describe_tasks(
        cluster=cluster, tasks=started[:1]
    )["tasks"]
    assert tasks[0]["startedBy"] == STARTED_BY


def test_needs_its_cluster_task_definition_and_subnets() -> None:
    with pytest.raises(LaunchFailed, match="AUTODEV_ECS_CLUSTER"):
        EcsLauncher(load_settings())
    with pytest.raises(LaunchFailed, match="AUTODEV_ECS_SUBNETS"):
        EcsLauncher(load_settings(autodev_ecs_cluster="c", autodev_ecs_task_definition="t"))


def _worker(instance: str | None) -> WorkerRecord:
    return WorkerRecord(
        id="ip-10-0-1-10-1-abc123",
        launcher="ecs",
        host="ip-10-0-1-10",
        pid=1,
        instance=instance,
        started_at=datetime.now(UTC),
        status="busy",
        current_task_id=None,
    )


def test_a_worker_lives_while_its_ecs_task_runs(ecs: tuple[str, str, str]) -> None:
    cluster, subnet, group = ecs
    settings = load_settings(
        autodev_ecs_cluster=cluster,
        autodev_ecs_task_definition="autodev-worker",
        autodev_ecs_subnets=subnet,
        autodev_ecs_security_groups=group,
    )
    (arn,) = EcsLauncher(settings).launch(1)
    assert worker_alive(_worker(arn), settings)
    boto3.client("ecs", region_name="us-east-1").stop_task(cluster=cluster, task=arn)
    assert not worker_alive(_worker(arn), settings)
    unknown = arn.rsplit("/", 1)[0] + "/0123456789abcdef0123456789abcdef"
    assert not worker_alive(_worker(unknown), settings)
    assert not worker_alive(_worker(None), settings)  # it never said which task it is
