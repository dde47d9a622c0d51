"""Walks every IAM policy of a template and finds wildcards that a narrower form could replace.

A statement is a finding when an Allow action ends in ``*`` (or is ``*``), or when a resource
is ``*`` or ends in ``*``, unless an entry below covers it. Each entry says why no narrower
form exists; adding one is a reviewed decision, not a convenience.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# Actions whose only resource form is "*" (Service Authorization Reference), with the reason.
STAR_RESOURCE_ACTIONS: dict[str, str] = {
    "xray:PutTraceSegments": "X-Ray tracing: no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray tracing: no resource-level permissions",
    "xray:GetSamplingRules": "X-Ray sampling (Step Functions tracing): no resource level",
    "xray:GetSamplingTargets": "X-Ray sampling (Step Functions tracing): no resource level",
    "ec2:CreateNetworkInterface": "Lambda in a VPC creates its ENIs before any ARN exists",
    "ec2:DescribeNetworkInterfaces": "Describe* actions have no resource-level permissions",
    "ec2:DescribeSubnets": "Describe* actions have no resource-level permissions",
    "ec2:DeleteNetworkInterface": "Lambda manages its own ENIs; ids are not known in advance",
    "ec2:AssignPrivateIpAddresses": "Lambda manages its own ENIs; ids are not known in advance",
    "ec2:UnassignPrivateIpAddresses": "Lambda manages its own ENIs; ids are not known in advance",
    "logs:CreateLogDelivery": "Step Functions log delivery: '*' is required (AWS docs)",
    "logs:GetLogDelivery": "Step Functions log delivery: '*' is required (AWS docs)",
    "logs:UpdateLogDelivery": "Step Functions log delivery: '*' is required (AWS docs)",
    "logs:DeleteLogDelivery": "Step Functions log delivery: '*' is required (AWS docs)",
    "logs:ListLogDeliveries": "Step Functions log delivery: '*' is required (AWS docs)",
    "logs:PutResourcePolicy": "Step Functions log delivery: '*' is required (AWS docs)",
    "logs:DescribeResourcePolicies": "Step Functions log delivery: '*' is required (AWS docs)",
    "logs:DescribeLogGroups": "Step Functions log delivery: '*' is required (AWS docs)",
    "scheduler:ListSchedules": "no resource-level permissions",
    "ecr:GetAuthorizationToken": "ECR login token: no resource-level permissions",
    "bedrock:ListFoundationModels": "the model health check (Bedrock): no resource level",
    "kms:Decrypt": "in a KMS key policy, '*' means the key itself",
    "kms:GenerateDataKey*": "in a KMS key policy, '*' means the key itself",
}

# Wildcard resources narrowed by a prefix, with the reason the tail cannot be known.
RESOURCE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r":log-group:[^*]+:\*$"), "log streams of one named log group"),
    (re.compile(r":execution:autodev-[a-z]+-[a-z0-9-]+:\*$"), "executions of one state machine"),
    (re.compile(r":schedule/autodev-[a-z]+/\*$"), "schedules in autodev's own group"),
    (re.compile(r":task-definition/autodev-[a-z]+-worker:\*$"), "revisions of the worker family"),
    (re.compile(r":task/autodev-[a-z]+/\*$"), "worker tasks in autodev's cluster"),
    (re.compile(r":container-instance/autodev-[a-z]+/\*$"), "ListTasks, scoped to the cluster"),
    (re.compile(r":foundation-model/anthropic\.\*$"), "Anthropic models on Bedrock (opt-in)"),
    (re.compile(r":inference-profile/\*anthropic\.\*$"), "Anthropic inference profiles"),
    (
        re.compile(r":secret:autodev/[a-z]+/repositories/\*$"),
        "repository credentials, registered at run time under autodev's name prefix",
    ),
    (
        re.compile(r":secret:autodev/[a-z]+/orgs/\*$"),
        "Salesforce orgs' auth URLs, registered at run time under autodev's name prefix",
    ),
    (
        re.compile(r'^\{"Fn::GetAtt": \["MigrationsMigrate[0-9A-F]+", "Arn"\]\}:\*$'),
        "CDK's trigger provider invokes the migration function's version, numbered at deploy",
    ),
]

# Whole statements that CDK generates for its own machinery, with the reason.
KEY_POLICY_ACTIONS_ALL = "kms:*"


@dataclass(frozen=True)
class Finding:
    where: str
    detail: str


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    """A resource as text: plain strings as they are, intrinsic functions flattened."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_text(part) for part in parts)
    return json.dumps(value, sort_keys=True)


def _statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for logical_id, resource in template["Resources"].items():
        kind = resource["Type"]
        properties = resource.get("Properties", {})
        documents: list[tuple[str, Any]] = []
        if kind in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            documents.append((logical_id, properties.get("PolicyDocument")))
        elif kind == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                documents.append((f"{logical_id}/{policy['PolicyName']}", policy["PolicyDocument"]))
        elif kind == "AWS::KMS::Key":
            documents.append((logical_id, properties.get("KeyPolicy")))
        for where, document in documents:
            for statement in (document or {}).get("Statement", []):
                found.append((where, statement))
    return found


def _is_key_policy_root(where: str, template: dict[str, Any], statement: dict[str, Any]) -> bool:
    """CDK's default key policy: the account root may administer the key (AWS's default)."""
    logical_id = where.split("/")[0]
    if template["Resources"][logical_id]["Type"] != "AWS::KMS::Key":
        return False
    principal = json.dumps(statement.get("Principal", {}))
    return ":root" in principal and _as_list(statement.get("Action")) == [KEY_POLICY_ACTIONS_ALL]


def wildcard_findings(template: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    for where, statement in _statements(template):
        if statement.get("Effect") != "Allow":
            continue
        if _is_key_policy_root(where, template, statement):
            continue
        actions = [str(a) for a in _as_list(statement.get("Action", []))]
        for action in actions:
            if action.endswith("*") and action not in STAR_RESOURCE_ACTIONS:
                findings.append(Finding(where, f"action {action}"))
        for resource in _as_list(statement.get("Resource", [])):
            text = _text(resource)
            if not text.endswith("*"):
                continue
            if text == "*":
                unexplained = [a for a in actions if a not in STAR_RESOURCE_ACTIONS]
                if unexplained:
                    findings.append(Finding(where, f"resource '*' for {', '.join(unexplained)}"))
                continue
            if not any(pattern.search(text) for pattern, _ in RESOURCE_PATTERNS):
                findings.append(Finding(where, f"resource {text} for {', '.join(actions)}"))
    return findings
