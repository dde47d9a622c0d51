"""The EventBridge bus of the spec's events, the schedule group, and the Scheduler roles.

- Bus ``autodev-<env>`` (``AUTODEV_EVENT_BUS``): task:completed, task:failed,
  workflow:completed, approval:requested, progress:updated, progress:completed, alert.
- Schedule group ``autodev-<env>`` holds the schedules people create with
  ``/workflow schedule``; their target role (``workflow_scheduler_role``) can only start
  autodev's state machines. Maintenance schedules (rescuer, delivery) use a second role that
  can only invoke those functions.
"""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from infra.common import data_removal
from infra.settings import EnvSettings


def _scheduler_principal(stack: Stack) -> iam.ServicePrincipal:
    # Confused-deputy guard: only schedules in this account may assume the role.
    return iam.ServicePrincipal(
        "scheduler.amazonaws.com",
        conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
    )


class Eventing(Construct):
    def __init__(self, scope: Construct, id: str, *, settings: EnvSettings) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        env = settings.env_name
        self.bus = events.EventBus(self, "Bus", event_bus_name=f"autodev-{env}")
        self.schedule_group_name = f"autodev-{env}"
        group = scheduler.CfnScheduleGroup(self, "ScheduleGroup", name=self.schedule_group_name)
        group.apply_removal_policy(data_removal(settings))
        self.schedule_group = group
        self.workflow_scheduler_role = iam.Role(
            self,
            "WorkflowSchedulerRole",
            assumed_by=_scheduler_principal(stack),
            description="EventBridge Scheduler: start autodev workflows on a schedule",
        )
        self.maintenance_scheduler_role = iam.Role(
            self,
            "MaintenanceSchedulerRole",
            assumed_by=_scheduler_principal(stack),
            description="EventBridge Scheduler: invoke autodev maintenance functions",
        )
        self._schedules: list[scheduler.CfnSchedule] = []

    def allow_scheduled_starts(self, state_machine_arns: list[str]) -> None:
        if state_machine_arns:
            self.workflow_scheduler_role.add_to_policy(
                iam.PolicyStatement(actions=["states:StartExecution"], resources=state_machine_arns)
            )

    def schedule_function(
        self, construct_id: str, function: lambda_.IFunction, expression: str
    ) -> scheduler.CfnSchedule:
        """Invoke ``function`` on ``expression`` (e.g. ``rate(1 minute)``)."""
        self.maintenance_scheduler_role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[function.function_arn]
            )
        )
        schedule = scheduler.CfnSchedule(
            self,
            construct_id,
            description=f"autodev maintenance: {construct_id}",
            group_name=self.schedule_group_name,
            schedule_expression=expression,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=function.function_arn,
                role_arn=self.maintenance_scheduler_role.role_arn,
                # The run's id is the correlation id of the function's log lines.
                input=json.dumps(
                    {
                        "source": "autodev.schedule",
                        "correlation_id": scheduler.ContextAttribute.execution_id,
                    }
                ),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=0  # the next tick is a minute away
                ),
            ),
        )
        schedule.node.add_dependency(self.schedule_group)
        self._schedules.append(schedule)
        return schedule
