"""The alarm topic, base alarms and the dashboard (the monitoring issue adds to them).

The topic is encrypted with a customer-managed key, because CloudWatch alarms cannot publish
to a topic encrypted with the AWS-managed SNS key. Alarms: any Lambda error or throttle, any
failed/timed-out/aborted execution, API 5xx, database CPU and free storage, and autodev's own
metrics (``autodev.observability.Metric``, published as embedded metric format by the
functions and the worker): dead tasks, dead deliveries, budget stops, Slack requests refused
or failed, best-effort side effects that failed. Each alarm notifies the topic when it fires
and when it is OK again; the ``alerts`` function is subscribed to the topic and posts both
to ALERT_CHANNEL (the alarm with a cooldown, then its resolution), through the same code as
autodev's own alerts.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.common import METRICS_NAMESPACE, SERVICE_NAME
from infra.settings import EnvSettings

_FIVE_MINUTES = Duration.minutes(5)

# autodev's metrics and the count in five minutes that raises their alarm. One dead task or
# delivery, one failed Slack request or pull request is worth a look; a few refused Slack
# requests are scanners, a burst is a wrong signing secret; a best-effort failure now and
# then (Slack slow to answer) is expected, several mean a side effect is broken.
APP_ALARMS: dict[str, float] = {
    "TasksDead": 1,
    "DeliveriesDead": 1,
    "BudgetStops": 1,
    "SlackRequestsRefused": 10,
    "SlackRequestsFailed": 1,
    "BestEffortFailed": 5,
    # A workflow changed files but its pull request could not be opened (a refused token, the
    # host down): the branch is pushed and named in the result, but nobody is asked to review.
    "PullRequestsFailed": 1,
}


def app_metric(name: str, env: str, period: Duration = _FIVE_MINUTES) -> cloudwatch.Metric:
    """One of autodev's metrics, summed over every breakdown (effect, reason, ...)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE_NAME, "environment": env},
        statistic=cloudwatch.Stats.SUM,
        period=period,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: EnvSettings,
        functions: dict[str, lambda_.Function],
        state_machines: dict[str, sfn.StateMachine],
        rest_api: apigw.RestApi,
        database: rds.DatabaseInstance,
    ) -> None:
        super().__init__(scope, id)
        env = settings.env_name
        self.key = kms.Key(
            self,
            "AlarmTopicKey",
            description="autodev alarm topic encryption",
            enable_key_rotation=True,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
            )
        )
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=f"autodev-{env}-alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        if settings.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        if "alerts" in functions:
            self.topic.add_subscription(subscriptions.LambdaSubscription(functions["alerts"]))

        self.alarms: list[cloudwatch.Alarm] = []
        for folder, function in functions.items():
            self._alarm(f"{folder}-errors", function.metric_errors(period=_FIVE_MINUTES), 1)
            self._alarm(f"{folder}-throttles", function.metric_throttles(period=_FIVE_MINUTES), 1)
        for template, machine in state_machines.items():
            for metric_name, metric in (
                ("failed", machine.metric_failed(period=_FIVE_MINUTES)),
                ("timed-out", machine.metric_timed_out(period=_FIVE_MINUTES)),
                ("aborted", machine.metric_aborted(period=_FIVE_MINUTES)),
            ):
                self._alarm(f"workflow-{template}-{metric_name}", metric, 1)
        for name, threshold in APP_ALARMS.items():
            self._alarm(_kebab(name), app_metric(name, env), threshold)
        self._alarm("api-5xx", rest_api.metric_server_error(period=_FIVE_MINUTES), 5)
        self._alarm("db-cpu", database.metric_cpu_utilization(period=_FIVE_MINUTES), 80, periods=3)
        free_storage = database.metric_free_storage_space(period=_FIVE_MINUTES)
        self._alarm(
            "db-free-storage",
            free_storage,
            2 * 1024**3,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        )

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"autodev-{env}", default_interval=Duration.hours(3)
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[rest_api.metric_count(), rest_api.metric_client_error()],
                right=[rest_api.metric_server_error()],
            ),
            cloudwatch.GraphWidget(
                title="API latency (p90)", left=[rest_api.metric_latency(statistic="p90")]
            ),
        )
        if state_machines:
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Workflows started / succeeded",
                    left=[m.metric_started() for m in state_machines.values()],
                    right=[m.metric_succeeded() for m in state_machines.values()],
                ),
                cloudwatch.GraphWidget(
                    title="Workflows failed / timed out",
                    left=[m.metric_failed() for m in state_machines.values()],
                    right=[m.metric_timed_out() for m in state_machines.values()],
                ),
            )
        if functions:
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Lambda errors",
                    left=[f.metric_errors() for f in functions.values()],
                ),
                cloudwatch.GraphWidget(
                    title="Lambda duration (p90)",
                    left=[f.metric_duration(statistic="p90") for f in functions.values()],
                ),
            )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Tasks and deliveries that gave up",
                left=[app_metric(n, env) for n in ("TasksDead", "DeliveriesDead", "BudgetStops")],
            ),
            cloudwatch.GraphWidget(
                title="Slack requests refused / failed, best-effort failures",
                left=[app_metric(n, env) for n in ("SlackRequestsRefused", "SlackRequestsFailed")],
                right=[app_metric("BestEffortFailed", env)],
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Database CPU and connections",
                left=[database.metric_cpu_utilization()],
                right=[database.metric_database_connections()],
            ),
            cloudwatch.GraphWidget(
                title="Database free storage", left=[database.metric_free_storage_space()]
            ),
        )

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        *,
        periods: int = 1,
        comparison: cloudwatch.ComparisonOperator = (
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        ),
    ) -> cloudwatch.Alarm:
        construct_id = "".join(part.capitalize() for part in name.replace("_", "-").split("-"))
        alarm = cloudwatch.Alarm(
            self,
            f"{construct_id}Alarm",
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=comparison,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"autodev {name}",
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        # Back to OK too: the alerts function posts the resolution.
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm


def _kebab(name: str) -> str:
    """TasksDead -> tasks-dead."""
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")
