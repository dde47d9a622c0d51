"""The Slack pieces of the local stack (in ``autodev.local.services.default_services``).

- ``slack-sink``: the local Slack sink; its URL is exported as ``AUTODEV_SLACK_SINK_URL``.
  It is also the local Slack page (open its URL in a browser), and the page where links to an
  execution lead (``AUTODEV_EXECUTION_PAGE_URL``, ``<sink>/executions``).
  Unless the user set a real bot token (``SLACK_BOT_TOKEN`` or ``SLACK_BOT_TOKEN_ARN``), the
  stack also exports ``SLACK_API_URL`` (the sink's Web API) and a placeholder
  ``SLACK_BOT_TOKEN``, so every Slack call of the stack's processes lands in the sink; with a
  real token they go to the real workspace.
- ``slack-gateway``: the three Slack handlers behind a loopback HTTP endpoint, exported as
  ``AUTODEV_SLACK_GATEWAY_URL``; the signing secret is generated once in AUTODEV_STATE_DIR
  when ``SLACK_SIGNING_SECRET`` is unset and set in the stack's own process, where the
  handlers run (``autodev slack`` and the page sign with the same one). It is never written to
  local.json.
- ``slack-approvals``: in AWS an EventBridge rule sends ``approval:requested`` straight to the
  Slack worker Lambda. moto's EventBridge cannot target Lambda, so locally the same rule
  targets an SQS queue and this service hands each event to the worker through
  ``lambda.invoke`` (InvocationType="Event"), which the local stack dispatches in-process.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autodev.local.services import LocalService
from autodev.local.slack import gateway, sink
from autodev.local.slack.secret import ensure_local_signing_secret
from autodev.slack.client import API_URL_ENV
from autodev.slack.signing import BOT_TOKEN_ARN_ENV, BOT_TOKEN_ENV, SIGNING_SECRET_ENV

if TYPE_CHECKING:
    from autodev.local.stack import LocalStack

SINK_URL_ENV = sink.SINK_URL_ENV
# Sent to the local sink only; a placeholder, not a credential.
PLACEHOLDER_TOKEN = "xoxb-local-sink-not-a-secret"  # noqa: S105
GATEWAY_URL_ENV = "AUTODEV_SLACK_GATEWAY_URL"
EXECUTION_PAGE_ENV = "AUTODEV_EXECUTION_PAGE_URL"
EXECUTIONS_PATH = "/executions"
APPROVAL_QUEUE = "autodev-slack-approval-requests"
APPROVAL_RULE = "autodev-slack-approval-requested"
WORKER_FOLDER = "slack_worker"


def _state_dir() -> Path:
    from autodev.config import get_settings

    return Path(get_settings().autodev_state_dir)


def real_token_configured() -> bool:
    """Whether the user gave a bot token of their own (then Slack calls go to Slack)."""
    token = os.environ.get(BOT_TOKEN_ENV)
    return bool((token and token != PLACEHOLDER_TOKEN) or os.environ.get(BOT_TOKEN_ARN_ENV))


class _RunningSink:
    def __init__(self, stack: LocalStack) -> None:
        self.sink = sink.SlackSink().start()
        self.state_dir = _state_dir()
        sink.announce(self.sink, self.state_dir)
        stack.export(SINK_URL_ENV, self.sink.url)
        if not os.environ.get(EXECUTION_PAGE_ENV):
            # Links to an execution lead to the page, not to an AWS console there is none of.
            stack.export(EXECUTION_PAGE_ENV, self.sink.url + EXECUTIONS_PATH)
        if not real_token_configured():
            stack.export(API_URL_ENV, self.sink.api_url)
            stack.export(BOT_TOKEN_ENV, PLACEHOLDER_TOKEN)

    def stop(self) -> None:
        sink.withdraw(self.state_dir)
        self.sink.stop()


class _RunningGateway:
    def __init__(self, stack: LocalStack) -> None:
        self.state_dir = _state_dir()
        secret = ensure_local_signing_secret(self.state_dir)
        # For the handlers in this process only: a secret never goes to local.json.
        stack.export(SIGNING_SECRET_ENV, secret, share=False)
        self.gateway = gateway.LocalGateway().start()
        self.gateway.announce(self.state_dir)
        stack.export(GATEWAY_URL_ENV, self.gateway.url)
        try:
            running_sink = stack.service("slack-sink")
        except KeyError:
            return  # no sink in this stack: no page to send from
        if isinstance(running_sink, _RunningSink):
            # The page's buttons and box send through this gateway, signed in the sink.
            running_sink.sink.connect_gateway(self.gateway.url, secret)

    def stop(self) -> None:
        self.gateway.withdraw(self.state_dir)
        self.gateway.stop()


class _ApprovalForwarder:
    """approval:requested → (moto EventBridge rule) → SQS → this loop → the Slack worker."""

    def __init__(self, stack: LocalStack) -> None:
        import boto3

        from autodev.events import bus_name
        from autodev.local.stack import function_name

        session = boto3.session.Session()
        common: dict[str, Any] = {"endpoint_url": stack.endpoint_url, "region_name": stack.region}
        self._sqs = session.client("sqs", **common)
        self._lambda = session.client("lambda", **common)
        events = session.client("events", **common)
        self._worker = function_name(WORKER_FOLDER)
        self._queue_url = str(self._sqs.create_queue(QueueName=APPROVAL_QUEUE)["QueueUrl"])
        queue_arn = self._sqs.get_queue_attributes(
            QueueUrl=self._queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        events.put_rule(
            Name=APPROVAL_RULE,
            EventBusName=bus_name(),
            EventPattern=json.dumps({"source": ["autodev"], "detail-type": ["approval:requested"]}),
        )
        events.put_targets(
            Rule=APPROVAL_RULE,
            EventBusName=bus_name(),
            Targets=[{"Id": "slack-worker", "Arn": queue_arn}],
        )
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="slack-approvals", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                answer = self._sqs.receive_message(
                    QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                )
            except Exception:  # the stack is stopping under us
                if self._stopping.is_set():
                    return
                raise
            for message in answer.get("Messages", []):
                self._lambda.invoke(
                    FunctionName=self._worker,
                    InvocationType="Event",
                    Payload=message["Body"].encode(),
                )
                self._sqs.delete_message(
                    QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)


SERVICES = [
    LocalService(
        name="slack-sink",
        start=_RunningSink,
        order=10,
        description="records Slack Web API calls and response_url posts (no real Slack)",
    ),
    LocalService(
        name="slack-gateway",
        start=_RunningGateway,
        order=50,
        description="the Slack handlers behind a loopback HTTP endpoint (/slack/...)",
    ),
    LocalService(
        name="slack-approvals",
        start=_ApprovalForwarder,
        order=60,
        description="approval:requested events to the Slack worker (posts approval cards)",
    ),
]
