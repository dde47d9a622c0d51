"""Alerts: the evaluator every minute (EventBridge Scheduler), and CloudWatch alarms (SNS).

- A scheduled run (``{"source": "autodev.schedule", ...}``) evaluates: error rate, health
  checks, dead tasks, budget stops, queue age; raises, reminds (at most once per
  ``ALERT_COOLDOWN``) and resolves alerts in ``ALERT_CHANNEL``.
- An SNS event carries CloudWatch alarm state changes: ``ALARM`` is posted through the same
  code as autodev's own alerts, ``OK`` posts its resolution.
"""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.observability import ASYNC, child_logger, lambda_handler

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(
    runtime.DATABASE, runtime.SLACK_BOT_TOKEN, runtime.EVENT_BUS, runtime.MODEL_PROVIDER
)

logger = child_logger("functions.alerts")


@lambda_handler(correlation_id_path=ASYNC)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Loaded by the first invocation, not at import: the evaluator's database and settings
    # cost more to import than the whole cold start may (issue 18).
    from autodev.monitoring import alerts

    if isinstance(event, dict) and event.get("Records"):
        # Powertools' parser models only for alarm notifications, not the minute's evaluation.
        from aws_lambda_powertools.utilities.parser.models import SnsModel

        records = SnsModel.model_validate(event).Records
        notifications = [alerts.parse_alarm(str(record.Sns.Message)) for record in records]
        reports = [alerts.cloudwatch_notification(alarm) for alarm in notifications]
        logger.info(
            "alarm notifications",
            extra={"alarms": [(a.name, a.state) for a in notifications]},
        )
        return {"alarms": [report.to_json() for report in reports]}
    report = alerts.evaluate()
    logger.info("alerts evaluated", extra=report.to_json())
    return report.to_json()
