"""Run Lambda invocations on moto in-process, with the same ``functions/*/handler.py`` as AWS.

moto's Lambda backend would start a Docker container per invocation. We replace the
backend's ``invoke`` (``moto.awslambda.models.LambdaBackend.invoke``, which the Lambda API
reaches through the server's HTTP endpoint, and the Step Functions interpreter, in this
process, directly: ``_StepFunctionsLambda``) with a dispatcher that loads the function's
handler by file path and calls it in a thread of this process:
``RequestResponse`` answers with the handler's return value (or a Lambda-shaped error with
``FunctionError: Unhandled``), ``Event`` returns 202 at once and runs the handler in the
background, ``DryRun`` returns 204. Functions we did not register fall through to moto.
An asynchronous invocation this process's own clients make of a registered function goes to
the backend without HTTP too, once botocore has validated and serialised it
(``_invoke_in_process``).

For tests of callers that retry, ``responses_lost`` injects a fault: the handler runs (and
commits whatever it commits), then the caller gets ``Lambda.ServiceException`` as if the
response had been lost on its way back, which is what makes Step Functions retry a Task whose
work is already done.
"""

from __future__ import annotations

import gc
import importlib.util
import io
import json
import os
import threading
import time
import traceback
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from autodev import aws
from autodev.observability import child_logger

log = child_logger(__name__)

_lock = threading.Lock()
_handlers: dict[str, Path] = {}
_modules: dict[Path, ModuleType] = {}
# Whether a started stack keeps what this process makes out of full collections
# (``keep_for_good``).
_kept = False
_original_invoke: Any = None
# Background (Event) invocations still running, so a stack can wait for them when it stops.
_background: set[threading.Thread] = set()
# function name -> (which events lose their response, the events that lost it): see
# ``responses_lost``.
_lost: dict[str, tuple[Callable[[Any], bool], list[Any]]] = {}
LOST_RESPONSE_ERROR = "Lambda.ServiceException"
# The header of Lambda's Invoke API that says how to invoke (RequestResponse, Event, DryRun).
INVOCATION_TYPE = "X-Amz-Invocation-Type"


@dataclass
class LambdaContext:
    """The attributes of the AWS Lambda context object that handlers and Powertools use."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    timeout_seconds: int = 900
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def register(functions: Mapping[str, Path]) -> None:
    """Dispatch invocations of these function names to these handler files; install the hooks
    (moto's Lambda backend, and the Lambda client of its Step Functions interpreter)."""
    global _original_invoke
    from moto.awslambda.models import LambdaBackend

    with _lock:
        _handlers.update({name: Path(path).resolve() for name, path in functions.items()})
        if _original_invoke is None:
            _original_invoke = LambdaBackend.invoke
            LambdaBackend.invoke = _invoke  # type: ignore[method-assign]
            _call_from_step_functions_in_process()
            aws.on_client_event("lambda", "before-call.lambda.Invoke", _invoke_in_process)


@contextmanager
def responses_lost(function_name: str, when: Callable[[Any], bool]) -> Iterator[list[Any]]:
    """While active, a RequestResponse invocation of ``function_name`` whose event ``when``
    accepts runs its handler, then fails with ``Lambda.ServiceException`` (the response was
    lost). Yields the list of those events, filled in as it happens. A fault for tests."""
    lost: list[Any] = []
    with _lock:
        _lost[function_name] = (when, lost)
    try:
        yield lost
    finally:
        with _lock:
            _lost.pop(function_name, None)


def _response_lost(function_name: str, event: Any) -> bool:
    with _lock:
        rule = _lost.get(function_name)
    if rule is None or not rule[0](event):
        return False
    rule[1].append(event)
    return True


def registered() -> dict[str, Path]:
    with _lock:
        return dict(_handlers)


def load_module(path: Path) -> ModuleType:
    """The module in the file at ``path``, loaded once per process (handler folders are not
    packages, so they are loaded by path; every local caller shares this one copy)."""
    path = Path(path).resolve()
    with _lock:
        module = _modules.get(path)
        if module is None:
            # A unique module name per folder: the handler folders are not packages.
            name = f"autodev_function_{path.parent.name}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise RuntimeError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            _modules[path] = module
            if _kept:  # what the handler imported lives as long as the stack
                gc.freeze()
        return module


def keep_for_good() -> None:
    """A stack has started: leave what the process holds now, and what each handler loaded
    from now on makes, out of the cyclic collector's full collections until ``collect_again``.

    The local stack serves every function, moto and the Slack stand-ins in one long-lived
    process: some 380,000 objects once started (modules, clients, schemas), none of them
    garbage. Each full collection walked them all, 0.3 s at a time on this 2-core machine
    (measured in a started stack's process), and it stopped whichever request was under way: a
    Slack command waited that long for its worker to be started. Frozen objects are still freed
    by their reference counts; only cycles among them wait for ``collect_again``."""
    global _kept
    _kept = True
    gc.freeze()


def collect_again() -> None:
    """The stack has stopped: what it held goes back to the collector (a test process starts
    many stacks one after another), and handlers loaded without a stack are not frozen."""
    global _kept
    _kept = False
    gc.unfreeze()


def call_handler(path: Path, event: Any, context: LambdaContext) -> Any:
    """Call ``handler(event, context)`` of the file at ``path``."""
    return load_module(path).handler(event, context)


def _error_payload(error: BaseException, request_id: str) -> dict[str, Any]:
    return {
        "errorMessage": str(error) or type(error).__name__,
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def _run_in_background(path: Path, event: Any, context: LambdaContext) -> None:
    try:
        call_handler(path, event, context)
    except Exception:
        log.exception("asynchronous invocation of %s failed", context.function_name)
    finally:
        with _lock:
            _background.discard(threading.current_thread())


def _invoke(
    self: Any,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: dict[str, str],
) -> bytes | str | None:
    function = self.get_function(function_name, qualifier)
    with _lock:
        path = _handlers.get(function.function_name)
    if path is None:
        return _original_invoke(self, function_name, qualifier, body, headers, response_headers)  # type: ignore[no-any-return]
    raw = body.decode() if isinstance(body, bytes) else body
    event = json.loads(raw) if raw else {}
    invocation_type = headers.get(INVOCATION_TYPE) or "RequestResponse"
    context = LambdaContext(function.function_name, function.function_arn)
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        thread = threading.Thread(
            target=_run_in_background,
            args=(path, event, context),
            name=f"lambda-{function.function_name}",
            daemon=True,
        )
        with _lock:
            _background.add(thread)
        thread.start()
        return b""
    try:
        result = call_handler(path, event, context)
        payload = json.dumps(result, default=str).encode()
        if _response_lost(function.function_name, event):
            log.info("%s ran; its response is lost (an injected fault)", function.function_name)
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps(
                {
                    "errorMessage": "the response was lost (a fault injected by the local stack)",
                    "errorType": LOST_RESPONSE_ERROR,
                    "requestId": context.aws_request_id,
                }
            ).encode()
    except Exception as error:
        log.info("%s raised %s: %s", function.function_name, type(error).__name__, error)
        response_headers["x-amz-function-error"] = "Unhandled"
        payload = json.dumps(_error_payload(error, context.aws_request_id)).encode()
    response_headers["Content-Length"] = str(len(payload))
    return payload


def wait_for_background(timeout: float = 10.0) -> bool:
    """Wait for asynchronous invocations to finish; False if some still run at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        with _lock:
            running = [t for t in _background if t.is_alive()]
        if not running:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        running[0].join(min(remaining, 0.5))


# --- Step Functions' Lambda Tasks ---

# The largest answer a synchronous invocation may give (AWS Lambda's limit, 6 MB).
MAX_RESPONSE_BYTES = 6_291_556
_PLAIN_INVOKE = frozenset({"FunctionName", "Payload", "Qualifier", "InvocationType"})


def _backend_serving(region: str, function: str, qualifier: str | None) -> Any | None:
    """moto's Lambda backend for ``region``, the one moto's API picks for a client of this
    process (its account: the stack's clients name none), when ``function`` is registered
    here; None otherwise."""
    from moto.awslambda.models import lambda_backends
    from moto.core.models import DEFAULT_ACCOUNT_ID

    account = os.environ.get("MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT_ID
    backend = lambda_backends[account][region]
    try:
        found = backend.get_function(function, qualifier)
    except Exception:  # unknown to moto: its API gives the error AWS gives
        return None
    return backend if found.function_name in registered() else None


class _StepFunctionsLambda:
    """The Lambda client moto's Step Functions interpreter calls (its ``invoke`` only).

    moto's interpreter runs in the moto server's own process, beside moto's Lambda backend,
    yet called it through a boto3 client over the server's port: botocore signing and
    serialising, a new TCP connection, werkzeug and moto's routing, and the answer back the
    same way: 7.4 ms for a function that does nothing (median of 100 calls, idle), 10-17 ms on
    a step's path, where every workflow makes two before its first step. A plain synchronous
    invocation of a function registered here goes to moto's backend directly, the same call
    its HTTP API makes, and is answered as that API does (the payload, ``FunctionError``);
    anything else (another function, another invocation type or option) still goes over HTTP.
    """

    def __init__(self, region: str, over_http: Any) -> None:
        self.region = region
        self.over_http = over_http

    def _backend_serving(self, parameters: Mapping[str, Any]) -> Any | None:
        """moto's Lambda backend, when ``parameters`` are a plain synchronous invocation of a
        function registered here; None otherwise (HTTP answers it)."""
        kind = parameters.get("InvocationType") or "RequestResponse"
        if kind != "RequestResponse" or not set(parameters) <= _PLAIN_INVOKE:
            return None
        return _backend_serving(
            self.region, str(parameters.get("FunctionName", "")), parameters.get("Qualifier")
        )

    def invoke(self, **parameters: Any) -> dict[str, Any]:
        backend = self._backend_serving(parameters)
        if backend is None:
            return self.over_http.invoke(**parameters)  # type: ignore[no-any-return]
        answered: dict[str, str] = {}
        payload = backend.invoke(
            str(parameters["FunctionName"]),
            parameters.get("Qualifier"),
            parameters.get("Payload") or b"",
            {},
            answered,
        )
        body = payload.encode() if isinstance(payload, str) else payload or b""
        error = answered.get("x-amz-function-error")
        if len(body) > MAX_RESPONSE_BYTES:
            error = "Unhandled"
            body = json.dumps(
                {
                    "errorMessage": "Response payload size exceeded maximum allowed payload"
                    f" size ({MAX_RESPONSE_BYTES} bytes).",
                    "errorType": "Function.ResponseSizeTooLarge",
                }
            ).encode()
        response: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": "$LATEST",
            "Payload": io.BytesIO(body),
        }
        if error:
            response["FunctionError"] = error
        return response


def _call_from_step_functions_in_process() -> None:
    """Give moto's interpreter a ``_StepFunctionsLambda`` for Lambda, kept per region, over
    one boto3 client kept per region and endpoint for what goes over HTTP (moto's interpreter
    built a new client, its loaders and connection pool, for every invocation: 5-80 ms of CPU).
    boto3 clients may be shared between threads."""
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    build = lambda_eval_utils.boto_client_for  # type: ignore[attr-defined]
    clients: dict[tuple[str, str, str, bool], Any] = {}
    building = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # The clients moto builds differ in nothing else (fixed credentials; the state's
        # credentials are not used by moto).
        key = (region, service, moto_server_port(), bool(botocore_stubber.enabled))
        with building:
            found = clients.get(key)
            if found is None:
                found = build(region, service, state_credentials)
                if service == "lambda":
                    found = _StepFunctionsLambda(region, found)
                clients[key] = found
        return found

    lambda_eval_utils.boto_client_for = boto_client_for  # type: ignore[attr-defined]


# --- Asynchronous invocations made in this process ---

# The running stack's moto server (its URL), whose asynchronous Lambda invocations from this
# process are answered here (``_invoke_in_process``); None while none runs.
_endpoint: str | None = None


def answer_calls_to(endpoint: str | None) -> None:
    """Answer in this process the asynchronous invocations its clients make of ``endpoint``,
    the stack's moto server (None: the stack has stopped, everything goes over HTTP)."""
    global _endpoint
    _endpoint = endpoint.rstrip("/") if endpoint else None


def _invoke_in_process(params: Mapping[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
    """botocore's ``before-call.lambda.Invoke`` for the clients of this process.

    The handlers that run here hand work on with asynchronous invocations (``invoke_async``:
    the Slack front door to the Slack worker and the scaler, every step's enqueue to the
    scaler, a workflow's end to its delivery). Over HTTP each took 2.6-5.8 ms of this process's
    CPU (medians of 40, two runs): botocore sending, werkzeug and moto's routing, all under the
    one GIL that the step's own path needs. One of a function registered here, made to the
    stack's server, goes to moto's backend directly instead, the call its API makes, after
    botocore has validated and serialised it as for AWS: 0.35-0.6 ms. Anything else (another
    endpoint or function, another invocation type, a qualifier) returns None and goes over
    HTTP."""
    endpoint = _endpoint
    if endpoint is None or not str(params.get("url", "")).startswith(f"{endpoint}/"):
        return None
    headers = params.get("headers") or {}
    body = params.get("body")
    if headers.get(INVOCATION_TYPE) != "Event" or not isinstance(body, bytes):
        return None
    options = [h for h in headers if h.lower().startswith("x-amz-") and h != INVOCATION_TYPE]
    if params.get("query_string") or options:  # a qualifier, client context, log type
        return None
    # /2015-03-31/functions/{FunctionName}/invocations; a name may be an ARN, URL-encoded.
    parts = str(params.get("url_path", "")).split("/")
    if len(parts) != 5 or parts[2:5:2] != ["functions", "invocations"]:
        return None
    region = str((params.get("context") or {}).get("client_region") or "")
    function = urllib.parse.unquote(parts[3])
    backend = _backend_serving(region, function, None) if region else None
    if backend is None:
        return None
    backend.invoke(function, None, body, {INVOCATION_TYPE: "Event"}, {})
    from botocore.awsrequest import AWSResponse
    from botocore.compat import HTTPHeaders
    from botocore.response import StreamingBody

    answer = AWSResponse(str(params["url"]), 202, HTTPHeaders(), None)
    parsed = {
        "StatusCode": 202,
        "Payload": StreamingBody(io.BytesIO(b""), 0),
        "ResponseMetadata": {"HTTPStatusCode": 202, "HTTPHeaders": {}, "RetryAttempts": 0},
    }
    return answer, parsed
