"""boto3 clients shared by every component.

boto3 itself honours ``AWS_ENDPOINT_URL`` (and per-service ``AWS_ENDPOINT_URL_<SERVICE>``), which
is how the local stack points the same code at moto's server on loopback. Clients retry
throttling and transient errors with the SDK's adaptive mode.

boto3 is imported when the first client is made, not with this module: it costs as much as a
whole handler's cold start should (issue 18), and many paths that import a module using
``client`` never call AWS (a handler on the local stack, a Slack request refused early).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config

DEFAULT_REGION = "us-east-1"


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


@cache
def _data_loader() -> Any:
    from botocore.loaders import create_loader

    return create_loader(os.environ.get("AWS_DATA_PATH"))


def _new_client(service: str, config: Config) -> Any:
    import botocore.session

    from autodev.observability import trace_aws_calls

    # In Lambda, every AWS call becomes an X-Ray subsegment of the handler's trace.
    trace_aws_calls()
    # A session per client, so that each reads the credentials and endpoint the environment
    # holds when it is made (``reset_clients``); one loader for all of them, which would
    # otherwise read and parse botocore's endpoints and service models again for every client
    # (0.2-0.4 s of a cold start each).
    session = botocore.session.get_session()
    session.register_component("data_loader", _data_loader())
    made = session.create_client(service, region_name=region(), config=config)
    for event, handler in _event_handlers.get(service, ()):
        made.meta.events.register(event, handler)
    return made


# How each kind of client calls AWS: the platform's own calls retry throttling and transient
# errors; health checks ask once and briefly (a dependency that does not answer at once is
# failing).
_CONFIGS: dict[str, dict[str, Any]] = {
    "client": {
        "retries": {"max_attempts": 5, "mode": "adaptive"},
        "connect_timeout": 5,
        "read_timeout": 30,
    },
    "probe": {"retries": {"max_attempts": 1}, "connect_timeout": 2, "read_timeout": 5},
}

# Made clients, by kind and service. A client is made once even when threads ask for it at the
# same time: the worker makes its Step Functions client in the background during its first
# task, and a short task that ends first asks for it too. With a plain cache both made one,
# twice the CPU on the step's hand-over (issue 18: 15-90 ms added in four of six cold runs).
_clients: dict[tuple[str, str], Any] = {}
_making = threading.Lock()


def _made_once(kind: str, service: str) -> Any:
    key = (kind, service)
    made = _clients.get(key)
    if made is None:
        with _making:
            made = _clients.get(key)
            if made is None:
                from botocore.config import Config

                made = _clients[key] = _new_client(service, Config(**_CONFIGS[kind]))
    return made


def client(service: str) -> Any:
    """A cached client for ``service`` in the configured region."""
    return _made_once("client", service)


def probe_client(service: str) -> Any:
    """A cached client for health checks: one attempt, short timeouts."""
    return _made_once("probe", service)


# botocore event handlers that every client of a service in this process gets (see
# ``on_client_event``), by service.
_event_handlers: dict[str, list[tuple[str, Callable[..., Any]]]] = {}


def on_client_event(service: str, event: str, handler: Callable[..., Any]) -> None:
    """Register ``handler`` for botocore's ``event`` on every ``service`` client this process
    has made and will make: how the local stack answers, in this process, the calls meant for
    what it serves here (``autodev.local.lambdas``). Once per handler: registering the same
    one again changes nothing."""
    with _making:
        handlers = _event_handlers.setdefault(service, [])
        if (event, handler) in handlers:
            return
        handlers.append((event, handler))
        for (_, made_for), made in _clients.items():
            if made_for == service:
                made.meta.events.register(event, handler)


def invoke_async(function: str, payload: Mapping[str, Any]) -> None:
    """Invoke the Lambda function ``function`` asynchronously (InvocationType="Event") with
    ``payload`` as JSON, carrying the current correlation id (``correlated``) so that the
    invoked handler's log lines join the caller's. On the local stack moto dispatches it to the
    same handler. Raises what boto3 raises: the callers decide whether a failed hand-off is
    best effort."""
    from autodev.observability import correlated

    client("lambda").invoke(
        FunctionName=function,
        InvocationType="Event",
        Payload=json.dumps(correlated(payload)).encode(),
    )


def reset_clients() -> None:
    """Forget cached clients (after the endpoint or credentials in the environment change)."""
    with _making:
        _clients.clear()
