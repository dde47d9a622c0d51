"""boto3 clients shared by every component.

boto3 itself honours ``AWS_ENDPOINT_URL`` (and per-service ``AWS_ENDPOINT_URL_<SERVICE>``), which
is how the local stack points the same code at moto's server on loopback. Clients retry
throttling and transient errors with the SDK's adaptive mode.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from autodev.observability import trace_aws_calls

DEFAULT_REGION = "us-east-1"

# In Lambda, every AWS call becomes an X-Ray subsegment of the handler's trace.
trace_aws_calls()

_CONFIG = Config(
    retries={"max_attempts": 5, "mode": "adaptive"}, connect_timeout=5, read_timeout=30
)


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


@cache
def client(service: str) -> Any:
    """A cached client for ``service`` in the configured region."""
    return boto3.session.Session().client(service, region_name=region(), config=_CONFIG)  # type: ignore[call-overload]


# Health checks ask once and briefly: a dependency that does not answer at once is failing.
_PROBE_CONFIG = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5)


@cache
def probe_client(service: str) -> Any:
    """A cached client for health checks: one attempt, short timeouts."""
    return boto3.session.Session().client(service, region_name=region(), config=_PROBE_CONFIG)  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget cached clients (after the endpoint or credentials in the environment change)."""
    client.cache_clear()
    probe_client.cache_clear()
