"""The prod environment in Bedrock mode: the settings that differ from dev, synthesised once."""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import Synth, as_list, synthesize
from tests.infra.iam_policy_check import wildcard_findings

# Who may approve and cancel in this environment (autodev.access), as CDK context.
ACCESS_CONTEXT = {
    "approvers": "U0RELEASE1, arn:aws:sts::123456789012:assumed-role/ReleaseManagers/*",
    "approverGroup": "release-managers",
    "admins": "U0ADMIN1",
}


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(
        tmp_path_factory.mktemp("cdk.out.prod"),
        {
            "env": "prod",
            "modelProvider": "bedrock",
            "alarmEmail": "ops@example.com",
            **ACCESS_CONTEXT,
        },
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


def test_the_approver_settings_reach_the_functions_that_decide(prod: Synth) -> None:
    from autodev.cli.identity import deployed_function_name
    from infra.function_specs import SPECS
    from infra.naming import function_name

    expected = {
        "APPROVERS": "U0RELEASE1,arn:aws:sts::123456789012:assumed-role/ReleaseManagers/*",
        "APPROVER_GROUP": "release-managers",
        "ADMINS": "U0ADMIN1",
    }
    deciding = {folder for folder, spec in SPECS.items() if spec.decides_access}
    assert deciding == {"slack_worker", "request_approval"}
    seen = set()
    for resource in prod.resources("AWS::Lambda::Function").values():
        props = resource["Properties"]
        name = props.get("FunctionName")
        folder = next((f for f in SPECS if function_name("prod", f) == name), None)
        if folder is None:
            continue
        variables = props.get("Environment", {}).get("Variables", {})
        given = {key: variables.get(key) for key in expected}
        if folder in deciding:
            assert given == expected, folder
            seen.add(folder)
        else:
            assert given == dict.fromkeys(expected), f"{folder} does not decide"
    assert seen == deciding
    # The CLI in AWS reads them from the function that decides for Slack, by its name.
    assert deployed_function_name("prod") == function_name("prod", "slack_worker")


def test_functions_that_call_the_model_may_invoke_anthropic_models_only(prod: Synth) -> None:
    from infra.function_specs import SPECS, Grant
    from infra.naming import function_name

    calling = {folder for folder, spec in SPECS.items() if Grant.CALL_MODEL in spec.grants}
    assert calling == {"slack_worker"}
    for resource in prod.resources("AWS::Lambda::Function").values():
        props = resource["Properties"]
        name = props.get("FunctionName")
        folder = next((f for f in SPECS if function_name("prod", f) == name), None)
        if folder is None:
            continue  # CDK's own (the migration trigger's provider)
        role = props["Role"]["Fn::GetAtt"][0]
        invoking = [
            statement
            for statement in prod.role_statements(role)
            if "bedrock:InvokeModel" in as_list(statement["Action"])
        ]
        if folder not in calling:
            assert not invoking, folder
            continue
        [statement] = invoking
        assert as_list(statement["Action"]) == ["bedrock:InvokeModel"]
        resources = json.dumps(statement["Resource"])
        assert "foundation-model/anthropic.*" in resources
        assert "inference-profile/*anthropic.*" in resources
