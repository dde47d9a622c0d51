"""Logs, traces and metrics for the whole package: one Powertools Logger, Tracer and Metrics.

- Names: the service is ``POWERTOOLS_SERVICE_NAME`` (default ``autodev``), metrics go to the
  namespace ``POWERTOOLS_METRICS_NAMESPACE`` (default ``autodev``) with the dimensions
  ``service`` and ``environment`` (``AUTODEV_ENV``, default ``local``). infra/ sets the same
  values for every function and the worker, and its alarms watch those dimensions.
- Logs: JSON lines (Powertools' formatter) on stderr. Modules log through
  ``child_logger(__name__)``, a child of the service logger, so their lines carry the
  invocation's request id, correlation id and any keys appended while a task runs, at the
  service's level (``POWERTOOLS_LOG_LEVEL``, default INFO; the CLI shows warnings only).
  stderr rather than stdout because the same code runs inside the CLI on the local stack,
  whose stdout is the command's output; Lambda and ECS send both streams to CloudWatch Logs.
- Handlers: ``@lambda_handler(correlation_id_path)`` adds the keys of
  ``inject_lambda_context`` (with a correlation id taken from the event, else the Lambda
  request id) to the invocation's thread, and applies ``Tracer.capture_lambda_handler`` and
  ``Metrics.log_metrics``.
- Metrics: ``count(...)`` writes one CloudWatch embedded-metric document at once, so a count
  is not lost when a handler fails or a worker is stopped. In AWS (Lambda, ECS) documents go
  to stdout, where CloudWatch Logs extracts them; elsewhere they are log lines, so they never
  mix with a command's output. ``best_effort`` / ``best_effort_failed`` log a side effect that
  failed and count it as ``BestEffortFailed`` by ``effect``.
- Traces: the X-Ray SDK is loaded only inside Lambda (Powertools disables tracing elsewhere),
  and only botocore is patched, when ``autodev.aws`` loads boto3: patching every supported
  library at start-up would import requests, httpx and more on every cold start.

Cold start: Powertools' package import already brings Logger, Tracer and Metrics; nothing
here adds a heavy import (the Slack front doors import this module).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from typing import IO, Any, ParamSpec, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.lambda_context import build_lambda_context_model
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.types import CloudWatchEMFOutput
from aws_lambda_powertools.utilities import jmespath_utils

from autodev.runtime import in_aws

PACKAGE = "autodev"
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or PACKAGE
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or PACKAGE
ENVIRONMENT = os.environ.get("AUTODEV_ENV") or "local"

# Where a handler finds its correlation id (JMESPath over the event; the Lambda request id
# when it finds none).
API_GATEWAY = correlation_paths.API_GATEWAY_REST  # the API Gateway request id
WORKFLOW = "workflow_id"  # state machine tasks: the workflow the execution runs
# Our own asynchronous invocations and schedules pass ``correlation_id``; EventBridge events
# are correlated by the workflow they concern, else by their own id.
ASYNC = "correlation_id || detail.workflow_id || id"


class Metric(StrEnum):
    """The operator's metrics (each has an alarm in infra/monitoring.py)."""

    TASKS_DEAD = "TasksDead"  # a task failed on every attempt it was allowed
    BUDGET_STOPS = "BudgetStops"  # by budget (task, workflow): a step stopped, or not started
    DELIVERIES_DEAD = "DeliveriesDead"  # by channel: a result will not be delivered
    SLACK_REQUESTS_REFUSED = "SlackRequestsRefused"  # by reason (forged, stale, ...)
    # by kind (command, interaction, mention): not handed on, or failed in the Slack worker;
    # the person was told something went wrong
    SLACK_REQUESTS_FAILED = "SlackRequestsFailed"
    BEST_EFFORT_FAILED = "BestEffortFailed"  # by effect: a side effect failed, work went on
    # by provider: a workflow changed files, its pull request could not be opened
    PULL_REQUESTS_FAILED = "PullRequestsFailed"


class _CurrentStderr:
    """``sys.stderr`` as it is at each write, so redirections (pytest, callers) are honoured."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


logger = Logger(
    service=SERVICE,
    stream=cast(IO[str], _CurrentStderr()),
    location="%(name)s:%(funcName)s:%(lineno)d",
    serialize_stacktrace=False,  # the exception's text has the traceback already
)
# Lines stop at the service logger: a root handler (``logging.basicConfig``) would print them
# a second time, as plain text.
logging.getLogger(logger.name).propagate = False


def child_logger(module: str) -> logging.Logger:
    """The logger for ``module`` (pass ``__name__``): a child of the service logger, so its
    lines are the service's JSON lines, at the service's level."""
    return logging.getLogger(f"{logger.name}.{module.removeprefix(PACKAGE + '.')}")


_log = child_logger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


@contextmanager
def appended_keys(**keys: Any) -> Iterator[None]:
    """Add ``keys`` to every log line (of every thread) while the block runs."""
    logger.append_keys(**keys)
    try:
        yield
    finally:
        logger.remove_keys(list(keys))


def current_correlation_id() -> str | None:
    """The correlation id of the invocation this thread is handling, if any."""
    current = logger.thread_safe_get_current_keys().get("correlation_id")
    return str(current) if current else logger.get_correlation_id()


def with_current_keys(call: Callable[P, T]) -> Callable[P, T]:
    """``call``, made to run with this thread's log keys (the invocation's correlation id among
    them) in a thread of its own, which would start without them: its log lines and the
    asynchronous invocations it makes join the caller's."""
    keys = dict(logger.thread_safe_get_current_keys())

    @functools.wraps(call)
    def with_keys(*args: P.args, **kwargs: P.kwargs) -> T:
        logger.thread_safe_append_keys(**keys)
        try:
            return call(*args, **kwargs)
        finally:
            logger.thread_safe_clear_keys()

    return with_keys


def correlated(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``payload`` for an asynchronous invocation, carrying the current correlation id (when
    there is one), which the invoked handler's ``ASYNC`` path picks up."""
    current = current_correlation_id()
    return {**payload, "correlation_id": current} if current else dict(payload)


# --- metrics ---


def _write(document: Mapping[str, Any]) -> None:
    if in_aws():  # a Lambda function or an ECS task, where CloudWatch Logs reads stdout
        print(json.dumps(document, separators=(",", ":"), default=str), flush=True)
        return
    names = [m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    _log.info(
        "metrics %s",
        ", ".join(names),
        extra={"metrics": {k: v for k, v in document.items() if k != "_aws"}},
    )


class _EmbeddedMetrics(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider, flushed through ``_write`` (never onto a CLI's stdout) and
    without the warning Powertools gives for an invocation that recorded nothing."""

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if self.metric_set:
            _write(self.serialize_metric_set())
        elif raise_on_empty_metrics:
            raise ValueError("no metrics were recorded")
        self.clear_metrics()


def _provider() -> _EmbeddedMetrics:
    return _EmbeddedMetrics(
        namespace=NAMESPACE, service=SERVICE, default_dimensions={"environment": ENVIRONMENT}
    )


# The handlers' Metrics: anything a handler adds is flushed when its invocation ends.
metrics = Metrics(namespace=NAMESPACE, service=SERVICE, provider=_provider())


def count(metric: Metric, value: float = 1, **breakdown: str) -> None:
    """Add ``value`` to ``metric`` now, as one EMF document.

    With a ``breakdown`` (e.g. ``effect="progress"``) the value is published twice by the
    same document: per breakdown value, and under the service's dimensions alone, which is
    the total an alarm watches without knowing every value in advance.
    """
    provider = _provider()
    provider.add_metric(name=str(metric), unit=MetricUnit.Count, value=value)
    for name, dimension in breakdown.items():
        provider.add_dimension(name=name, value=dimension)
    document: CloudWatchEMFOutput = provider.serialize_metric_set()
    if breakdown:
        directive = document["_aws"]["CloudWatchMetrics"][0]
        directive["Dimensions"] = [["service", "environment"], *directive["Dimensions"]]
    _write(document)


def best_effort_failed(effect: str, log: logging.Logger, **details: Any) -> None:
    """Call in an ``except`` block whose side effect the work can do without: logs the
    exception (with ``details`` as keys) and counts ``BestEffortFailed`` for ``effect``."""
    _side_effect_failed(effect, log, details, stacklevel=3)


def _side_effect_failed(
    effect: str, log: logging.Logger, details: Mapping[str, Any], *, stacklevel: int
) -> None:
    # stacklevel: the line's location is the caller's, not this module's.
    log.warning(
        "best-effort %s failed",
        effect,
        exc_info=True,
        stacklevel=stacklevel,
        extra={"effect": effect, **details},
    )
    count(Metric.BEST_EFFORT_FAILED, effect=effect)


@contextmanager
def best_effort(effect: str, log: logging.Logger, **details: Any) -> Iterator[None]:
    """Run a side effect the work can do without: an exception is logged and counted
    (``best_effort_failed``), never raised."""
    try:
        yield
    except Exception:
        # Frames up to the caller: this generator, contextlib's __exit__, the ``with``.
        _side_effect_failed(effect, log, details, stacklevel=4)


# --- traces ---


def tracing_active() -> bool:
    """Inside Lambda, where Powertools traces (it disables tracing everywhere else)."""
    return bool(os.environ.get("LAMBDA_TASK_ROOT"))


@functools.cache
def tracer() -> Tracer:
    """The Tracer, built on first use: building it loads the X-Ray SDK."""
    return Tracer(service=SERVICE, auto_patch=False)


def trace_aws_calls() -> None:
    """Record boto3 calls as X-Ray subsegments (called once boto3 is imported anyway)."""
    if tracing_active():
        tracer().patch(["botocore"])


# --- handlers ---

Handler = TypeVar("Handler", bound=Callable[..., Any])

_cold_start = True


def _invocation_keys(event: Any, context: Any, correlation_id_path: str) -> dict[str, Any]:
    """What ``inject_lambda_context`` would add: cold start, the context's function name,
    memory, ARN and request id, and the correlation id found at ``correlation_id_path``."""
    global _cold_start
    cold_start, _cold_start = _cold_start, False
    found = jmespath_utils.query(data=event, envelope=correlation_id_path) if event else None
    return {
        "cold_start": cold_start,
        **build_lambda_context_model(context).__dict__,
        "correlation_id": found if isinstance(found, str) and found else context.aws_request_id,
    }


def lambda_handler(correlation_id_path: str) -> Callable[[Handler], Handler]:
    """Decorate a Lambda handler: JSON logs with the request and correlation ids, a trace
    segment (in Lambda) and the handler's metrics flushed when it returns.

    ``correlation_id_path`` is where the event holds the correlation id (``API_GATEWAY``,
    ``WORKFLOW``, ``ASYNC``); the Lambda request id stands in when it holds none. An
    exception the handler raises is logged (with both ids) before it propagates.

    The keys are those of Powertools' ``inject_lambda_context``, kept per thread rather than
    logger-wide: on the local stack several invocations run at once in one process (an
    asynchronous invoke runs in a thread), and one invocation's end must not strip the ids
    from another's lines, nor its start give them its own.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def logging_errors(event: Any, context: Any) -> Any:
            try:
                return handler(event, context)
            except Exception:
                # Lambda's own error line has neither the correlation id nor our format.
                logger.exception("the handler raised")
                raise

        inner: Callable[..., Any] = logging_errors
        if tracing_active():
            # Responses can carry user content and run to megabytes: not trace metadata.
            inner = tracer().capture_lambda_handler(inner, capture_response=False)
        inner = metrics.log_metrics(inner)

        @functools.wraps(handler)
        def observed(event: Any, context: Any) -> Any:
            if not hasattr(context, "aws_request_id"):
                return inner(event, context)  # called without a Lambda context (a script)
            outer = dict(logger.thread_safe_get_current_keys())
            logger.thread_safe_append_keys(**_invocation_keys(event, context, correlation_id_path))
            try:
                return inner(event, context)
            finally:
                # A handler called inside another's invocation (in one thread) gives the
                # outer one its keys back; later lines claim no invocation's ids.
                logger.thread_safe_clear_keys()
                logger.thread_safe_append_keys(**outer)

        observed.correlation_id_path = correlation_id_path  # type: ignore[attr-defined]
        return cast(Handler, observed)

    return decorate


def is_observed(handler: Callable[..., Any]) -> bool:
    """Whether ``handler`` was decorated with ``lambda_handler``."""
    return isinstance(getattr(handler, "correlation_id_path", None), str)
