"""The synthesised autodev stack: functions, state machines, IAM, network, database, linters."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from autodev.workflows import asl
from infra.discovery import (
    REPO_ROOT,
    arn_substitution,
    handler_folders,
    worker_dockerfile,
    workflow_files,
)
from infra.function_specs import SPECS
from infra.naming import function_name
from infra.settings import load_env_settings
from infra.workflows import numeric_substitutions
from tests.infra.conftest import Context, Synth, as_list
from tests.infra.iam_policy_check import wildcard_findings

ENV = "dev"


def _functions_by_name(synth: Synth) -> dict[str, str]:
    return {
        props["FunctionName"]: logical_id
        for logical_id, resource in synth.resources("AWS::Lambda::Function").items()
        if isinstance(props := resource.get("Properties", {}), dict) and "FunctionName" in props
    }


def _staged_asset(synth: Synth, logical_id: str) -> Path:
    metadata = synth.template["Resources"][logical_id]["Metadata"]
    return synth.outdir / str(metadata["aws:asset:path"])


# --- functions ---


def test_every_handler_folder_has_its_function(synth: Synth) -> None:
    folders = handler_folders()
    assert folders, "no functions/*/handler.py found"
    by_name = _functions_by_name(synth)
    for folder in folders:
        name = function_name(ENV, folder)
        assert name in by_name, f"functions/{folder} has no Lambda function in the template"
        props = synth.props(by_name[name])
        assert props["Handler"] == "handler.handler"
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert len(props["Layers"]) == 3  # Powertools, dependencies, autodev
        staged = _staged_asset(synth, by_name[name]) / "handler.py"
        source = REPO_ROOT / "functions" / folder / "handler.py"
        assert staged.read_bytes() == source.read_bytes(), f"{folder}: wrong code asset"


def test_every_handler_folder_has_a_spec_entry() -> None:
    missing = sorted(set(handler_folders()) - set(SPECS))
    assert not missing, f"add an entry to infra/function_specs.py SPECS for: {missing}"


def test_the_worker_container_is_not_a_lambda(synth: Synth) -> None:
    assert function_name(ENV, "claude_worker") not in _functions_by_name(synth)


def test_reserved_concurrency_follows_the_specs(synth: Synth) -> None:
    by_name = _functions_by_name(synth)
    for folder in handler_folders():
        expected = SPECS[folder].reserved_concurrency if folder in SPECS else None
        props = synth.props(by_name[function_name(ENV, folder)])
        assert props.get("ReservedConcurrentExecutions") == expected, folder


def test_no_secret_value_in_any_environment(synth: Synth) -> None:
    secretish = re.compile(r"(TOKEN|SECRET|PASSWORD|API_KEY|DATABASE_URL)$")
    environments: list[tuple[str, dict[str, Any]]] = []
    for logical_id, resource in synth.resources("AWS::Lambda::Function").items():
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        environments.append((logical_id, variables))
    for logical_id, resource in synth.resources("AWS::ECS::TaskDefinition").items():
        for container in resource["Properties"]["ContainerDefinitions"]:
            variables = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
            environments.append((logical_id, variables))
            assert "Secrets" not in container  # not even injected: read at run time by ARN
    assert environments
    for where, variables in environments:
        for key in variables:
            assert not secretish.search(key), f"{where}: {key} looks like a secret value"


def test_secret_arns_reach_the_functions_that_use_them(synth: Synth) -> None:
    by_name = _functions_by_name(synth)
    for folder in handler_folders():
        spec = SPECS.get(folder)
        if spec is None:
            continue
        variables = synth.props(by_name[function_name(ENV, folder)])["Environment"]["Variables"]
        for grant, variable in (
            ("slack-signing-secret", "SLACK_SIGNING_SECRET_ARN"),
            ("slack-bot-token", "SLACK_BOT_TOKEN_ARN"),
            ("database", "DATABASE_SECRET_ARN"),
        ):
            assert (variable in variables) == (grant in spec.grants), f"{folder}: {variable}"


def test_the_slack_front_doors_invoke_only_whom_they_hand_on_to(synth: Synth) -> None:
    # All three hand jobs to the Slack worker; `/workflow start` also asks the scaler for a
    # worker as it arrives, so the command handler alone may invoke the scaler.
    by_name = _functions_by_name(synth)
    worker, scaler = (function_name(ENV, folder) for folder in ("slack_worker", "scaler"))
    for folder, invoked in (
        ("slack_commands", {worker, scaler}),
        ("slack_interactions", {worker}),
        ("slack_events", {worker}),
    ):
        props = synth.props(by_name[function_name(ENV, folder)])
        role = props["Role"]["Fn::GetAtt"][0]
        # Granted by name: arn:<partition>:lambda:<region>:<account>:function:<name>.
        invokable = {
            str(resource["Fn::Join"][1][-1]).removeprefix(":function:")
            for statement in synth.role_statements(role)
            if "lambda:InvokeFunction" in as_list(statement["Action"])
            for resource in as_list(statement["Resource"])
        }
        assert invokable == invoked, folder
        variables = props["Environment"]["Variables"]
        assert ("AUTODEV_SCALER_FUNCTION" in variables) == (scaler in invoked), folder


# --- state machines ---


def _expected_definition(text: str, substitutions: dict[str, Any]) -> Any:
    settings = load_env_settings(Context({"env": ENV}))
    values: dict[str, str | int] = {**numeric_substitutions(settings)}
    values.update(substitutions)
    return json.loads(asl.render_definition(text, values))


def test_each_state_machine_is_standard_and_matches_its_file(synth: Synth) -> None:
    workflows = workflow_files()
    assert workflows, "no statemachines/*.asl.json found"
    machines = {
        props["StateMachineName"]: props
        for props in (
            r["Properties"] for r in synth.resources("AWS::StepFunctions::StateMachine").values()
        )
    }
    by_name = _functions_by_name(synth)
    by_substitution = {arn_substitution(folder): folder for folder in handler_folders()}
    for workflow in workflows:
        props = machines[f"autodev-{ENV}-{workflow.template}"]
        assert props["StateMachineType"] == "STANDARD"
        assert props["TracingConfiguration"] == {"Enabled": True}
        assert props["LoggingConfiguration"]["Level"] == "ALL"
        # Each ARN substitution points at the function its name says.
        deployed_values: dict[str, Any] = {}
        for placeholder, value in props.get("DefinitionSubstitutions", {}).items():
            folder = by_substitution[placeholder]
            assert value == {"Fn::GetAtt": [by_name[function_name(ENV, folder)], "Arn"]}
            deployed_values[placeholder] = f"arn:test:{folder}"
        # What CloudFormation will deploy, after its substitution, equals the file rendered
        # with the same values.
        deployed = props["DefinitionString"]
        assert isinstance(deployed, str)
        for placeholder, value in deployed_values.items():
            deployed = deployed.replace(f"${{{placeholder}}}", value)
        assert "${" not in deployed
        assert json.loads(deployed) == _expected_definition(workflow.text, deployed_values)


def test_each_state_machine_may_invoke_exactly_its_functions(synth: Synth) -> None:
    machines = synth.resources("AWS::StepFunctions::StateMachine")
    by_name = _functions_by_name(synth)
    for workflow in workflow_files():
        logical_id = next(
            lid
            for lid, r in machines.items()
            if r["Properties"]["StateMachineName"] == f"autodev-{ENV}-{workflow.template}"
        )
        role = machines[logical_id]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        invokable = {
            resource["Fn::GetAtt"][0]
            for statement in synth.role_statements(role)
            if "lambda:InvokeFunction" in as_list(statement["Action"])
            for resource in as_list(statement["Resource"])
        }
        named = {
            by_name[function_name(ENV, folder)]
            for folder in handler_folders()
            if f"${{{arn_substitution(folder)}}}" in workflow.text
        }
        assert invokable == named, workflow.template


# --- IAM ---


def test_no_iam_wildcard_where_a_narrower_form_exists(synth: Synth) -> None:
    findings = wildcard_findings(synth.template)
    assert not findings, "\n".join(f"{f.where}: {f.detail}" for f in findings)


def test_the_wildcard_check_catches_a_broad_statement() -> None:
    template = {
        "Resources": {
            "Policy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyDocument": {
                        "Statement": [
                            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b"},
                            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"},
                            {"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"},
                        ]
                    }
                },
            }
        }
    }
    details = [f.detail for f in wildcard_findings(template)]
    assert details == ["action s3:*", "resource '*' for sqs:SendMessage"]


def test_worker_task_role_can_only_answer_tasks_read_its_secrets_and_publish(synth: Synth) -> None:
    task_definition = next(iter(synth.resources("AWS::ECS::TaskDefinition").values()))
    role = task_definition["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    actions = synth.role_actions(role)
    assert actions <= {
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "states:SendTaskHeartbeat",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "events:PutEvents",
        "lambda:InvokeFunction",  # the delivery function, kicked for a task's result
    }
    assert "states:SendTaskSuccess" in actions


def test_the_worker_gets_only_the_secrets_it_needs_and_runs_its_agent_contained(
    synth: Synth,
) -> None:
    (task_definition,) = synth.resources("AWS::ECS::TaskDefinition").values()
    (container,) = task_definition["Properties"]["ContainerDefinitions"]
    names = {variable["Name"] for variable in container.get("Environment", [])}
    assert {"ANTHROPIC_API_KEY_ARN", "SLACK_BOT_TOKEN_ARN"} <= names
    assert not [name for name in names if "SIGNING" in name]
    assert "Secrets" not in container
    secrets = {
        resource["Properties"]["Name"]: logical_id
        for logical_id, resource in synth.resources("AWS::SecretsManager::Secret").items()
    }
    signing = {"Ref": secrets[f"autodev/{ENV}/slack-signing-secret"]}
    roles = [task_definition["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]]
    if "ExecutionRoleArn" in task_definition["Properties"]:
        roles.append(task_definition["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0])
    readable = [
        resource
        for role in roles
        for statement in synth.role_statements(role)
        for resource in as_list(statement["Resource"])
    ]
    assert {"Ref": secrets[f"autodev/{ENV}/anthropic-api-key"]} in readable
    assert signing not in readable
    # The worker starts the agent as the image's unprivileged user: it keeps the capabilities
    # that takes and no more, under an init process that reaps what the agent leaves.
    linux = container["LinuxParameters"]
    assert linux["InitProcessEnabled"] is True
    assert "Add" not in linux["Capabilities"]
    assert {"NET_RAW", "MKNOD", "SYS_CHROOT", "SETPCAP", "SETFCAP"} <= set(
        linux["Capabilities"]["Drop"]
    )
    assert not {"SETUID", "SETGID", "KILL", "CHOWN"} & set(linux["Capabilities"]["Drop"])


# --- network and database ---


def _security_group(synth: Synth, description_start: str) -> str:
    matches = [
        logical_id
        for logical_id, resource in synth.resources("AWS::EC2::SecurityGroup").items()
        if resource["Properties"]["GroupDescription"].startswith(description_start)
    ]
    assert len(matches) == 1, description_start
    return matches[0]


def test_worker_security_group_allows_no_inbound(synth: Synth) -> None:
    group = _security_group(synth, "autodev Claude Code workers")
    props = synth.props(group)
    assert not props.get("SecurityGroupIngress")
    for resource in synth.resources("AWS::EC2::SecurityGroupIngress").values():
        assert resource["Properties"]["GroupId"] != {"Fn::GetAtt": [group, "GroupId"]}
    # Outbound: HTTPS anywhere, Postgres to the proxy only.
    egress = list(props.get("SecurityGroupEgress", []))
    for resource in synth.resources("AWS::EC2::SecurityGroupEgress").values():
        if resource["Properties"]["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]}:
            egress.append(resource["Properties"])
    ports = sorted((rule["FromPort"], rule["ToPort"]) for rule in egress)
    assert ports == [(443, 443), (5432, 5432)]
    postgres = next(rule for rule in egress if rule["FromPort"] == 5432)
    proxy = _security_group(synth, "autodev RDS Proxy")
    assert postgres["DestinationSecurityGroupId"] == {"Fn::GetAtt": [proxy, "GroupId"]}


def test_database_is_private_encrypted_backed_up_and_tls_only(synth: Synth) -> None:
    instances = synth.resources("AWS::RDS::DBInstance")
    assert len(instances) == 1
    props = next(iter(instances.values()))["Properties"]
    assert props["PubliclyAccessible"] is False
    assert props["StorageEncrypted"] is True
    assert props["BackupRetentionPeriod"] >= 1
    parameter_group = synth.props(props["DBParameterGroupName"]["Ref"])
    assert parameter_group["Parameters"]["rds.force_ssl"] == "1"
    proxy = next(iter(synth.resources("AWS::RDS::DBProxy").values()))["Properties"]
    assert proxy["RequireTLS"] is True
    rotation = synth.resources("AWS::SecretsManager::RotationSchedule")
    assert rotation, "the database secret is not rotated"


def test_prod_protects_the_database() -> None:
    prod = load_env_settings(Context({"env": "prod"}))
    assert prod.db_deletion_protection
    assert prod.db_multi_az
    assert prod.retain_data


def test_settings_refuse_bad_context() -> None:
    from infra.settings import SettingsError

    with pytest.raises(SettingsError, match="env must be one of dev, prod"):
        load_env_settings(Context({"env": "staging"}))
    with pytest.raises(SettingsError, match="natGateways must be a whole number"):
        load_env_settings(Context({"natGateways": "two"}))
    assert load_env_settings(Context({"natGateways": "2"})).nat_gateways == 2
    with pytest.raises(SettingsError, match="approvers lists 'alice'"):
        load_env_settings(Context({"approvers": "U0RELEASE1,alice"}))
    with pytest.raises(SettingsError, match="approverGroup must be a Slack user group"):
        load_env_settings(Context({"approverGroup": "Release Managers"}))
    assert load_env_settings(Context({})).approvers is None  # nobody until configured


def test_the_rescuer_may_read_executions_and_workflows_start_by_registering(synth: Synth) -> None:
    # The rescuer's reconcile pass reads each active workflow's execution.
    by_name = _functions_by_name(synth)
    rescuer = synth.props(by_name[function_name(ENV, "rescuer")])
    role = rescuer["Role"]["Fn::GetAtt"][0]
    assert "states:DescribeExecution" in synth.role_actions(role)
    # Every state machine's first state is the registration function's.
    registration = by_name[function_name(ENV, "workflow_started")]
    for resource in synth.resources("AWS::StepFunctions::StateMachine").values():
        substitutions = resource["Properties"]["DefinitionSubstitutions"]
        arn = substitutions["WorkflowStartedFunctionArn"]
        assert arn == {"Fn::GetAtt": [registration, "Arn"]}


# --- API ---


def test_api_routes_auth_and_request_limits(synth: Synth) -> None:
    methods = synth.resources("AWS::ApiGateway::Method")
    resources = synth.resources("AWS::ApiGateway::Resource")

    def path_of(resource_id: dict[str, Any]) -> str:
        if "Fn::GetAtt" in resource_id:
            return ""
        props = resources[resource_id["Ref"]]["Properties"]
        return f"{path_of(props['ParentId'])}/{props['PathPart']}"

    by_route = {
        f"{m['Properties']['HttpMethod']} {path_of(m['Properties']['ResourceId'])}": m["Properties"]
        for m in methods.values()
    }
    folders = set(handler_folders())
    for route, folder in (
        ("POST /slack/commands", "slack_commands"),
        ("POST /slack/interactions", "slack_interactions"),
        ("POST /slack/events", "slack_events"),
    ):
        if folder in folders:
            method = by_route[route]
            assert method["AuthorizationType"] == "NONE"
            assert method["RequestParameters"] == {
                "method.request.header.X-Slack-Signature": True,
                "method.request.header.X-Slack-Request-Timestamp": True,
            }
    if "results_api" in folders:
        assert by_route["GET /results/{id}"]["AuthorizationType"] == "AWS_IAM"
        assert by_route["POST /results/{id}/webhooks"]["AuthorizationType"] == "AWS_IAM"
    if "health" in folders:
        health = by_route["GET /health"]
        assert health["AuthorizationType"] == "NONE"
        assert health["Integration"]["Type"] == "AWS_PROXY"  # the health function, not a mock
    stage = next(iter(synth.resources("AWS::ApiGateway::Stage").values()))["Properties"]
    assert stage["AccessLogSetting"]["DestinationArn"]
    assert stage["MethodSettings"][0]["ThrottlingRateLimit"] > 0
    acl = next(iter(synth.resources("AWS::WAFv2::WebACL").values()))["Properties"]
    size_rule = next(rule for rule in acl["Rules"] if rule["Name"] == "body-size-limit")
    constraint = size_rule["Statement"]["SizeConstraintStatement"]
    assert constraint["ComparisonOperator"] == "GT"
    assert constraint["Size"] == load_env_settings(Context({"env": ENV})).max_request_body_bytes
    assert constraint["FieldToMatch"]["Body"]["OversizeHandling"] == "MATCH"
    assert synth.resources("AWS::WAFv2::WebACLAssociation")


# --- linters ---


def test_cdk_nag_reports_nothing_unacknowledged(synth: Synth) -> None:
    violations = synth.nag_violations()
    assert not violations, "\n".join(violations)
    assert synth.error is None, synth.error


def test_cfn_lint_passes(synth: Synth) -> None:
    matches = synth.cfn_lint_matches()
    assert not matches, "\n".join(matches)


def test_worker_image_is_built_from_its_dockerfile(synth: Synth) -> None:
    assets = json.loads((synth.outdir / f"{synth.stack_name}.assets.json").read_text())
    images = [image["source"] for image in assets.get("dockerImages", {}).values()]
    task_definition = next(iter(synth.resources("AWS::ECS::TaskDefinition").values()))
    platform = task_definition["Properties"]["RuntimePlatform"]
    assert platform == {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"}
    if not worker_dockerfile().exists():
        assert images == []  # placeholder image until the Dockerfile lands (synth warns)
        return
    assert len(images) == 1
    assert images[0]["dockerFile"] == "functions/claude_worker/Dockerfile"
    assert images[0]["platform"] == "linux/arm64"
    context = synth.outdir / images[0]["directory"]
    assert (context / "uv.lock").exists()
    for excluded in (".git", ".venv", "node_modules", "cdk.out", "tests", ".autodev"):
        assert not (context / excluded).exists(), f"{excluded} is in the image build context"
    # Everything the Dockerfile copies from the context is in it (the excludes cut no deeper).
    for line in worker_dockerfile().read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            for source in (w for w in words[1:-1] if not w.startswith("--")):
                assert (context / source).exists(), f"Dockerfile copies {source}: not in context"
