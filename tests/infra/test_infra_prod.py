"""The prod environment in Bedrock mode: the settings that differ from dev, synthesised once."""

from __future__ import annotations

import pytest

from tests.infra.conftest import Synth, synthesize
from tests.infra.iam_policy_check import wildcard_findings


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(
        tmp_path_factory.mktemp("cdk.out.prod"),
        {"env": "prod", "modelProvider": "bedrock", "alarmEmail": "ops@example.com"},
    )


def test_prod_passes_nag_cfn_lint_and_the_wildcard_check(prod: Synth) -> None:
    violations = prod.nag_violations()
    assert not violations, "\n".join(violations)
    assert prod.error is None
    assert not wildcard_findings(prod.template)
    matches = prod.cfn_lint_matches()
    assert not matches, "\n".join(matches)


def test_prod_database_is_protected_and_kept(prod: Synth) -> None:
    instance = next(iter(prod.resources("AWS::RDS::DBInstance").values()))
    assert instance["Properties"]["DeletionProtection"] is True
    assert instance["Properties"]["MultiAZ"] is True
    assert instance["DeletionPolicy"] == "Snapshot"
    assert prod.resources("AWS::SNS::Subscription")


def test_bedrock_role_only_invokes_models_and_only_the_worker_assumes_it(prod: Synth) -> None:
    roles = prod.resources("AWS::IAM::Role")
    bedrock = next(
        logical_id
        for logical_id, role in roles.items()
        if "Bedrock" in role["Properties"].get("Description", "")
    )
    assert prod.role_actions(bedrock) == {
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
    }
    task_definition = next(iter(prod.resources("AWS::ECS::TaskDefinition").values()))
    task_role = task_definition["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    assert "sts:AssumeRole" in prod.role_actions(task_role)
    trust = roles[bedrock]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"AWS": {"Fn::GetAtt": [task_role, "Arn"]}}]
    container = task_definition["Properties"]["ContainerDefinitions"][0]
    names = {variable["Name"] for variable in container["Environment"]}
    assert "AUTODEV_BEDROCK_ROLE_ARN" in names
