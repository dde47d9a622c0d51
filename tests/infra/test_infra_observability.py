"""The alarms on autodev's own metrics, and the names the code publishes them under.

autodev.observability publishes to POWERTOOLS_METRICS_NAMESPACE with the dimensions service
(POWERTOOLS_SERVICE_NAME) and environment (AUTODEV_ENV); the alarms only fire if every
function and the worker are given the values the alarms watch.
"""

from __future__ import annotations

import json
from typing import Any

from autodev.observability import Metric
from infra.monitoring import APP_ALARMS
from tests.infra.conftest import Synth

ENV = "dev"
WATCHED = {"POWERTOOLS_SERVICE_NAME": "autodev", "POWERTOOLS_METRICS_NAMESPACE": "autodev"}


def _alarms_on(synth: Synth, namespace: str) -> dict[str, dict[str, Any]]:
    return {
        props["MetricName"]: props
        for resource in synth.resources("AWS::CloudWatch::Alarm").values()
        if (props := resource["Properties"]).get("Namespace") == namespace
    }


def test_every_operator_metric_has_an_alarm_on_the_alarm_topic(synth: Synth) -> None:
    assert set(APP_ALARMS) == {metric.value for metric in Metric}
    alarms = _alarms_on(synth, "autodev")
    (topic,) = synth.resources("AWS::SNS::Topic")
    for metric in Metric:
        alarm = alarms.get(metric.value)
        assert alarm is not None, f"no alarm on {metric.value}"
        assert sorted(alarm["Dimensions"], key=lambda d: d["Name"]) == [
            {"Name": "environment", "Value": ENV},
            {"Name": "service", "Value": "autodev"},
        ]
        assert alarm["Statistic"] == "Sum"
        assert alarm["Period"] == 300
        assert alarm["Threshold"] == APP_ALARMS[metric.value]
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == [{"Ref": topic}]


def test_functions_and_the_worker_publish_under_the_watched_names(synth: Synth) -> None:
    expected = {**WATCHED, "AUTODEV_ENV": ENV}
    functions = synth.resources("AWS::Lambda::Function")
    checked = 0
    for logical_id, resource in functions.items():
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        if "POWERTOOLS_SERVICE_NAME" not in variables:
            continue  # CDK's own helper functions (log retention, custom resources)
        checked += 1
        assert {k: variables.get(k) for k in expected} == expected, logical_id
    assert checked >= 12  # eleven handlers and the migration trigger
    (task_definition,) = synth.resources("AWS::ECS::TaskDefinition").values()
    (container,) = task_definition["Properties"]["ContainerDefinitions"]
    variables = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert {k: variables.get(k) for k in expected} == expected


def test_maintenance_schedules_pass_their_run_id_as_the_correlation_id(synth: Synth) -> None:
    schedules = synth.resources("AWS::Scheduler::Schedule").values()
    inputs = [json.loads(s["Properties"]["Target"]["Input"]) for s in schedules]
    assert inputs, "no maintenance schedule"
    for given in inputs:
        assert given["correlation_id"] == "<aws.scheduler.execution-id>"
