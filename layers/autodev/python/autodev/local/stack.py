"""The local AWS endpoint: a moto server on loopback with the Step Functions interpreter on.

``LocalStack`` starts moto's server in a thread of this process, hooks Lambda invocations to
``functions/*/handler.py`` (see ``lambdas``), creates the Lambda functions, the event bus, the
schedule group and one state machine per ``statemachines/*.asl.json`` (rendered with the same
substitutions as infra/), exports the AWS environment that points boto3 at it, and starts
local services.
"""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from autodev.aws import reset_clients
from autodev.config import get_settings
from autodev.local import lambdas, moto_fixes
from autodev.local.services import LocalService, RunningService
from autodev.observability import child_logger
from autodev.workflows import asl, sfn

log = child_logger(__name__)

FUNCTIONS_DIR = asl.REPO_ROOT / "functions"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
EVENT_BUS = "autodev"
SCHEDULE_GROUP = "autodev"
# The fake credentials moto accepts; never real ones.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def function_name(folder: str) -> str:
    """The local Lambda function name of ``functions/<folder>``: the folder name itself."""
    return folder


def function_env_name(folder: str) -> str:
    """The environment variable that holds a function's name: ``<FOLDER>_FUNCTION``."""
    return f"{folder.upper()}_FUNCTION"


def function_folders(directory: Path = FUNCTIONS_DIR) -> dict[str, Path]:
    """``functions/<folder>/handler.py`` for every folder that has one."""
    return {
        path.parent.name: path
        for path in sorted(directory.glob("*/handler.py"))
        if not path.parent.name.startswith((".", "_"))
    }


def _zip() -> bytes:
    # moto keeps the code it is given; the dispatcher never runs it.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def _moto_server(host: str, port: int) -> Any:
    """moto's threaded server, which stops at once and dispatches without searching. Its thread
    serves with socketserver's default poll interval, 0.5 s, which is how long a stop waits to
    be seen: every stack's stop (every test's) waited for it."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class HostsLookedUpOnce(DomainDispatcherApplication):
        """moto's dispatcher, which finds the backend of a request's host by listing moto's
        package folders and trying its URL patterns, twice a request (3 ms of the stack's CPU
        for every Step Functions call, measured); a host's backend never changes, so each is
        looked up once. moto calls this under its dispatcher's lock."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._backends: dict[str | None, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            if host not in self._backends:
                self._backends[host] = super().get_backend_for_host(host)
            return self._backends[host]

    class PromptlyStopped(ThreadedMotoServer):
        def _server_entry(self) -> None:
            # moto's own, but for the poll interval and the dispatcher.
            app = HostsLookedUpOnce(create_backend_app)
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever(poll_interval=0.05)

    return PromptlyStopped(ip_address=host, port=port, verbose=False)


class LocalStack:
    """moto on loopback with our functions, state machines and event bus; a context manager.

    ``overrides`` replace numeric substitutions (e.g. ``ApprovalTimeoutSeconds=2``) for every
    state machine; :meth:`redefine` changes them for one template while running.
    ``poke_scaler=False`` leaves AUTODEV_SCALER_FUNCTION unset, so queued tasks wait for
    whoever claims them (a test's worker double) instead of started workers.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        overrides: Mapping[str, int] | None = None,
        services: Iterable[LocalService] = (),
        poke_scaler: bool = True,
        functions_dir: Path = FUNCTIONS_DIR,
        statemachines_dir: Path = asl.STATEMACHINES_DIR,
    ) -> None:
        self._requested_port = port
        self.host = host
        self.overrides = dict(overrides or {})
        self.services = list(services)
        self.poke_scaler = poke_scaler
        self.functions_dir = functions_dir
        self.statemachines_dir = statemachines_dir
        self.region = REGION
        self.port = 0
        self.env: dict[str, str] = {}
        self.function_arns: dict[str, str] = {}
        self.state_machine_arns: dict[str, str] = {}
        self.schedule_group = SCHEDULE_GROUP
        self._saved_env: dict[str, str | None] = {}
        self._server: Any = None
        self._running: list[tuple[LocalService, RunningService]] = []
        # What services want the person who started the stack to know (printed by `local up`
        # and the demo, kept in local.json).
        self.notes: list[str] = []

    # --- life cycle ---

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> LocalStack:
        moto_fixes.apply()
        self._server = _moto_server(self.host, self._requested_port)
        self._server.start()
        self.port = int(self._server.get_host_and_port()[1])
        try:
            self._export_aws_env()
            self._post("/moto-api/reset", {})
            # The interpreter only runs executions when this is on; it calls Lambda back
            # through this server's port (MOTO_PORT), where the dispatcher answers.
            self._post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
            self._create_resources()
            for service in self.services:
                self._running.append((service, service.start(self)))
        except BaseException:
            self.stop()
            raise
        # What the stack made to start lives until it stops (see ``lambdas.keep_for_good``).
        lambdas.keep_for_good()
        return self

    def stop(self) -> None:
        _stop_status_sender()
        for service, running in reversed(self._running):
            try:
                running.stop()
            except Exception:
                log.exception("stopping the local service %s failed", service.name)
        self._running.clear()
        if self._server is not None:
            self._stop_executions()
            lambdas.wait_for_background(5.0)
            try:
                self._post("/moto-api/reset", {})
            except Exception:
                log.exception("resetting moto failed")
            lambdas.answer_calls_to(None)
            self._server.stop()
            self._server = None
        self._restore_env()
        lambdas.collect_again()

    # --- environment ---

    def export(self, name: str, value: str, *, share: bool = True) -> None:
        """Set ``name`` in this process's environment (restored on stop) and, unless
        ``share`` is False (a secret), in ``env``, which other processes read."""
        if name not in self._saved_env:
            self._saved_env[name] = os.environ.get(name)
        os.environ[name] = value
        if share:
            self.env[name] = value
        get_settings.cache_clear()

    def note(self, text: str) -> None:
        """Tell the person who started the stack something (``autodev local up`` prints it)."""
        self.notes.append(text)
        log.info("%s", text)

    def service(self, name: str) -> RunningService:
        """The running service called ``name`` (e.g. the scripted model server)."""
        for service, running in self._running:
            if service.name == name:
                return running
        raise KeyError(f"the local stack runs no service {name!r}")

    def _export_aws_env(self) -> None:
        for name, value in FAKE_CREDENTIALS.items():
            self.export(name, value)
        self.export("AWS_ENDPOINT_URL", self.endpoint_url)
        self.export("AWS_REGION", self.region)
        self.export("AWS_DEFAULT_REGION", self.region)
        self.export("MOTO_PORT", str(self.port))
        self.export("AUTODEV_EVENT_BUS", EVENT_BUS)
        self.export(
            "AUTODEV_STATE_MACHINE_ARN_PREFIX",
            f"arn:aws:states:{self.region}:{ACCOUNT_ID}:stateMachine:"
            f"{sfn.STATE_MACHINE_NAME_PREFIX}",
        )
        folders = function_folders(self.functions_dir)
        for folder in folders:
            self.export(function_env_name(folder), function_name(folder))
        if self.poke_scaler and "scaler" in folders and "AUTODEV_SCALER_FUNCTION" not in os.environ:
            self.export("AUTODEV_SCALER_FUNCTION", function_name("scaler"))
        if "deliver_results" in folders and "AUTODEV_DELIVERY_FUNCTION" not in os.environ:
            # As in AWS, a committed result's delivery is kicked asynchronously (the
            # deliver_results function, in the background here): a workflow's last state
            # does not wait for its Slack message and events (about 11 ms of 60 inline).
            self.export("AUTODEV_DELIVERY_FUNCTION", function_name("deliver_results"))
        if "DB_POOL_MAX_SIZE" not in os.environ:
            # Handlers, workers and the caller share this process's pool here.
            self.export("DB_POOL_MAX_SIZE", "10")
        self._forget_cached_clients()

    def _restore_env(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        self._forget_cached_clients()

    @staticmethod
    def _forget_cached_clients() -> None:
        from autodev.db import close_pool

        reset_clients()
        sfn._account_id.cache_clear()
        close_pool()
        get_settings.cache_clear()

    def _post(self, path: str, body: Mapping[str, Any]) -> None:
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - our own loopback endpoint
            self.endpoint_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

    # --- resources ---

    def _client(self, service: str) -> Any:
        from autodev.aws import client

        return client(service)

    def _create_resources(self) -> None:
        iam = self._client("iam")
        role = iam.create_role(
            RoleName="autodev-local",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        functions = function_folders(self.functions_dir)
        lambda_client = self._client("lambda")
        code = _zip()
        for folder in functions:
            created = lambda_client.create_function(
                FunctionName=function_name(folder),
                Runtime="python3.12",
                Role=role,
                Handler="handler.handler",
                Code={"ZipFile": code},
                Timeout=900,
            )
            self.function_arns[folder] = str(created["FunctionArn"])
        lambdas.register({function_name(f): path for f, path in functions.items()})
        lambdas.answer_calls_to(self.endpoint_url)
        self._client("events").create_event_bus(Name=EVENT_BUS)
        # Where /workflow schedule creates schedules, and the role they run as (in AWS: a
        # role that may only start the state machines); the ticker service fires them.
        self._client("scheduler").create_schedule_group(Name=self.schedule_group)
        self.export("AUTODEV_SCHEDULE_GROUP", self.schedule_group)
        self.export("AUTODEV_SCHEDULER_ROLE_ARN", role)
        machines = self._client("stepfunctions")
        for template in asl.template_names(self.statemachines_dir):
            arn = machines.create_state_machine(
                name=sfn.STATE_MACHINE_NAME_PREFIX + template,
                definition=self.definition(template),
                roleArn=role,
            )["stateMachineArn"]
            self.state_machine_arns[template] = str(arn)

    def substitutions(self, **overrides: int) -> dict[str, str | int]:
        """What the definitions' placeholders are filled with: function ARNs and numbers."""
        values: dict[str, str | int] = {
            asl.function_substitution(folder): arn for folder, arn in self.function_arns.items()
        }
        values.update(asl.default_substitutions(get_settings()))
        values.update(self.overrides)
        values.update(overrides)
        return values

    def definition(self, template: str, **overrides: int) -> str:
        text = asl.load_definition(template, self.statemachines_dir)
        return asl.render_definition(text, self.substitutions(**overrides))

    def redefine(self, template: str, **overrides: int) -> None:
        """Re-render one state machine with other numbers (e.g. a short approval timeout)."""
        self._client("stepfunctions").update_state_machine(
            stateMachineArn=self.state_machine_arns[template],
            definition=self.definition(template, **overrides),
        )

    def _stop_executions(self) -> None:
        try:
            machines = self._client("stepfunctions")
            for arn in self.state_machine_arns.values():
                running = machines.list_executions(stateMachineArn=arn, statusFilter="RUNNING")
                for execution in running["executions"]:
                    machines.stop_execution(
                        executionArn=execution["executionArn"],
                        error="LocalStackStopped",
                        cause="the local stack stopped",
                    )
        except Exception:
            log.exception("stopping the running executions failed")

    def describe(self) -> dict[str, Any]:
        """What other processes need to find this stack (written to local.json)."""
        return {
            "endpoint_url": self.endpoint_url,
            "port": self.port,
            "region": self.region,
            "env": dict(self.env),
            "functions": dict(self.function_arns),
            "state_machines": dict(self.state_machine_arns),
            "services": [service.name for service, _ in self._running],
            "notes": list(self.notes),
        }


def _stop_status_sender() -> None:
    """Stop this process's background Slack status sender (started by the handlers that run
    here), if it was ever started: once the stack has restored the environment, its next look
    would start an embedded Postgres under the default state directory."""
    updates = sys.modules.get("autodev.progress.slack_updates")
    if updates is not None and not updates.stop_background_flusher():
        log.warning("the Slack status sender did not stop within its wait")
