"""Repository credentials in AWS: the worker's task role, and the functions that start and
finish workflows, may read the secrets under autodev/<env>/repositories/ and no others; no
other function may read them; the worker image does not pin its repository."""

from __future__ import annotations

import json
import re
from typing import Any

from infra.discovery import REPO_ROOT, handler_folders
from infra.function_specs import SPECS, Grant
from infra.naming import function_name
from tests.infra.conftest import Synth, as_list

ENV = "dev"
PREFIX = f"autodev/{ENV}/repositories/"
READERS = {"slack_worker", "workflow_finished"}


def _reads_repository_secrets(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statements if f"secret:{PREFIX}*" in json.dumps(s["Resource"])]


def _function_role(synth: Synth, folder: str) -> str:
    for resource in synth.resources("AWS::Lambda::Function").values():
        props = resource["Properties"]
        if props.get("FunctionName") == function_name(ENV, folder):
            return str(props["Role"]["Fn::GetAtt"][0])
    raise AssertionError(f"no function {folder}")


def test_the_worker_reads_repository_secrets_by_their_prefix_only(synth: Synth) -> None:
    task_definition = next(iter(synth.resources("AWS::ECS::TaskDefinition").values()))
    role = task_definition["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    (statement,) = _reads_repository_secrets(synth.role_statements(role))
    assert as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"]
    resource = json.dumps(statement["Resource"])
    assert re.search(r"secretsmanager.*secret:autodev/dev/repositories/\*", resource)
    (container,) = task_definition["Properties"]["ContainerDefinitions"]
    env = {item["Name"]: item["Value"] for item in container["Environment"]}
    assert env["AUTODEV_REPO_SECRET_PREFIX"] == PREFIX
    assert "AUTODEV_SFDX_REPO" not in env


def test_only_the_functions_that_talk_to_hosts_read_repository_secrets(synth: Synth) -> None:
    granted = {f for f, spec in SPECS.items() if Grant.REPOSITORY_CREDENTIALS in spec.grants}
    assert granted == READERS
    for folder in handler_folders():
        statements = _reads_repository_secrets(synth.role_statements(_function_role(synth, folder)))
        if folder in READERS:
            assert [as_list(s["Action"]) for s in statements] == [["secretsmanager:GetSecretValue"]]
        else:
            assert statements == [], folder


def test_the_worker_image_does_not_pin_its_repository() -> None:
    dockerfile = (REPO_ROOT / "functions" / "claude_worker" / "Dockerfile").read_text()
    assert "AUTODEV_SFDX_REPO" not in re.sub(r"(?m)^#.*$", "", dockerfile)


def test_the_worker_reads_org_auth_url_secrets_by_their_prefix_only(synth: Synth) -> None:
    # The tool steps log in to registered Salesforce orgs; no function reads those secrets.
    org_prefix = f"autodev/{ENV}/orgs/"
    task_definition = next(iter(synth.resources("AWS::ECS::TaskDefinition").values()))
    role = task_definition["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    statements = [
        s
        for s in synth.role_statements(role)
        if f"secret:{org_prefix}*" in json.dumps(s["Resource"])
    ]
    assert [as_list(s["Action"]) for s in statements] == [["secretsmanager:GetSecretValue"]]
    (container,) = task_definition["Properties"]["ContainerDefinitions"]
    env = {item["Name"]: item["Value"] for item in container["Environment"]}
    assert env["AUTODEV_ORG_SECRET_PREFIX"] == org_prefix
    for folder in handler_folders():
        readers = [
            s
            for s in synth.role_statements(_function_role(synth, folder))
            if f"secret:{org_prefix}*" in json.dumps(s["Resource"])
        ]
        assert readers == [], folder
