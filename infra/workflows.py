"""One Standard state machine per ``statemachines/<template>.asl.json``.

The files are valid JSON with ``"${Name}"`` placeholders (statemachines/README.md). Numbers
(``TaskTimeoutSeconds``, ``HeartbeatSeconds``, ``ApprovalTimeoutSeconds``,
``WorkflowTimeoutSeconds``, ``MaxFixAttempts``, ``MapMaxConcurrency``) must become JSON
numbers, which CloudFormation's textual DefinitionSubstitutions cannot do (it would leave
``"1800"``, a string, where ASL wants an integer). So the definition is rendered at synth by
the same ``autodev.workflows.asl.render_definition`` the local engine uses -- numbers from the
environment's settings, ARN placeholders kept as they are -- and handed to the state machine
as its definition string; CloudFormation then fills the ARNs through ``DefinitionSubstitutions``:

- ``${<CamelName>FunctionArn}`` -> the ARN of ``functions/<snake_name>``; the state machine may
  invoke exactly the functions it names, nothing else;
- ``${EventBusName}``, ``${EventBusArn}`` -> the autodev bus (for ``events:putEvents`` tasks).

A placeholder that is none of these, or a service integration this construct does not grant,
stops the synth with a message naming the file, so a definition can never deploy without the
permission it needs (or with more than it needs).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from autodev.workflows import asl
from infra import common, naming
from infra.discovery import REPO_ROOT, WorkflowFile, arn_substitution, workflow_files
from infra.settings import EnvSettings

_LAMBDA_INTEGRATIONS = frozenset(
    {
        "arn:aws:states:::lambda:invoke",
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
    }
)
_EVENTS_INTEGRATIONS = frozenset(
    {"arn:aws:states:::events:putEvents", "arn:aws:states:::events:putEvents.waitForTaskToken"}
)
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


class DefinitionError(ValueError):
    """A state machine definition cannot be deployed as written."""


def numeric_substitutions(settings: EnvSettings) -> dict[str, int]:
    return {
        "TaskTimeoutSeconds": settings.task_timeout_seconds,
        "HeartbeatSeconds": settings.heartbeat_seconds,
        "ApprovalTimeoutSeconds": settings.approval_timeout_seconds,
        "WorkflowTimeoutSeconds": settings.workflow_timeout_seconds,
        "MaxFixAttempts": settings.max_fix_attempts,
        "MapMaxConcurrency": settings.map_max_concurrency,
    }


def render(workflow: WorkflowFile, settings: EnvSettings, arn_placeholders: set[str]) -> str:
    """The definition with numbers filled in and ARN placeholders left for CloudFormation."""
    values: dict[str, str | int] = {**numeric_substitutions(settings)}
    values.update({name: f"${{{name}}}" for name in arn_placeholders})
    try:
        return asl.render_definition(workflow.text, values)
    except asl.DefinitionError as error:
        raise DefinitionError(f"statemachines/{workflow.path.name}: {error}") from None


def task_resources(definition: dict[str, Any]) -> list[str]:
    """Every ``Resource`` of a Task state, also inside Parallel branches and Map iterators."""
    found: list[str] = []

    def walk(states: dict[str, Any]) -> None:
        for state in states.values():
            if state.get("Type") == "Task":
                found.append(str(state.get("Resource", "")))
            for branch in state.get("Branches", []):
                walk(branch.get("States", {}))
            for key in ("Iterator", "ItemProcessor"):
                if key in state:
                    walk(state[key].get("States", {}))

    walk(definition.get("States", {}))
    return found


class Workflows(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: EnvSettings,
        functions: dict[str, lambda_.Function],
        bus: events.IEventBus,
        root: Path = REPO_ROOT,
    ) -> None:
        super().__init__(scope, id)
        self.state_machines: dict[str, sfn.StateMachine] = {}
        self.invoked: dict[str, list[str]] = {}
        self.rendered: dict[str, str] = {}
        by_substitution = {arn_substitution(folder): folder for folder in functions}
        numbers = numeric_substitutions(settings)
        for workflow in workflow_files(root):
            self._state_machine(workflow, settings, functions, by_substitution, numbers, bus)

    def _state_machine(
        self,
        workflow: WorkflowFile,
        settings: EnvSettings,
        functions: dict[str, lambda_.Function],
        by_substitution: dict[str, str],
        numbers: dict[str, int],
        bus: events.IEventBus,
    ) -> None:
        where = f"statemachines/{workflow.path.name}"
        substitutions: dict[str, str] = {}
        invoked: list[str] = []
        uses_bus = False
        for placeholder in sorted(asl.placeholders(workflow.text)):
            if placeholder in by_substitution:
                folder = by_substitution[placeholder]
                substitutions[placeholder] = functions[folder].function_arn
                invoked.append(folder)
            elif placeholder in numbers:
                continue  # rendered into the definition below
            elif placeholder in {"EventBusName", "EventBusArn"}:
                substitutions[placeholder] = (
                    bus.event_bus_name if placeholder == "EventBusName" else bus.event_bus_arn
                )
                uses_bus = True
            elif placeholder.endswith("FunctionArn"):
                raise DefinitionError(
                    f"{where} uses ${{{placeholder}}} but there is no functions/"
                    f"{_snake(placeholder.removesuffix('FunctionArn'))}/handler.py"
                )
            else:
                raise DefinitionError(
                    f"{where} uses ${{{placeholder}}}, which infra does not provide; known: "
                    "<CamelName>FunctionArn, "
                    + ", ".join([*numbers, "EventBusName", "EventBusArn"])
                )
        rendered = render(workflow, settings, set(substitutions))
        self._check_integrations(where, rendered, uses_bus)

        name = naming.state_machine_name(settings.env_name, workflow.template)
        # The /aws/vendedlogs/ prefix keeps the logs resource policy small.
        log_group = common.log_group(
            self, f"{_camel(workflow.template)}Logs", settings, f"/aws/vendedlogs/states/{name}"
        )
        machine = sfn.StateMachine(
            self,
            _camel(workflow.template),
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(rendered),
            definition_substitutions=substitutions,
            logs=sfn.LogOptions(
                destination=log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=settings.sfn_log_execution_data,
            ),
            tracing_enabled=True,
            removal_policy=common.data_removal(settings),
        )
        if invoked:
            # The unqualified ARNs only: the definitions call functions, never versions.
            machine.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunction"],
                    resources=[functions[folder].function_arn for folder in invoked],
                )
            )
        if uses_bus:
            bus.grant_put_events_to(machine)
        self.state_machines[workflow.template] = machine
        self.invoked[workflow.template] = invoked
        self.rendered[workflow.template] = rendered

    @staticmethod
    def _check_integrations(where: str, text: str, uses_bus: bool) -> None:
        try:
            definition = json.loads(text)
        except json.JSONDecodeError as error:
            raise DefinitionError(f"{where} is not valid JSON: {error}") from None
        for resource in task_resources(definition):
            if resource in _LAMBDA_INTEGRATIONS or _PLACEHOLDER.fullmatch(resource):
                continue
            if resource in _EVENTS_INTEGRATIONS and uses_bus:
                continue
            raise DefinitionError(
                f"{where}: Task resource {resource!r} is not granted by infra/workflows.py "
                "(supported: lambda:invoke[.waitForTaskToken] with ${<Name>FunctionArn}, "
                "events:putEvents with ${EventBusName})"
            )


def _camel(template: str) -> str:
    return "".join(part.capitalize() for part in template.split("-"))


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()
