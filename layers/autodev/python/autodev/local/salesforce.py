"""The local stack's Salesforce: the stand-in ``sf`` (``autodev.local.sf``) for the tool steps,
and a registered org ``local`` whose SFDX auth URL is a secret in moto's Secrets Manager.

The worker runs ``sf`` with none of its own environment (``autodev.salesforce.sf``), so the
service writes a small ``sf`` program into the state directory that names the stand-in's state
(validations) itself, and points ``AUTODEV_SF_CLI`` at it. What the org answers comes from the
project in the step's workspace (a failing test, broken metadata), and one switch is a file:
while ``<state>/validation-ttl-seconds`` exists, validations expire after that many seconds
(so a test can have a quick deploy refused because its validation expired).
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from autodev.local.services import LocalService
from autodev.local.sf import BIN_DIR
from autodev.local.sf.state import STATE_VARIABLE, TTL_VARIABLE

if TYPE_CHECKING:
    from autodev.local.stack import LocalStack

SF_CLI_ENV = "AUTODEV_SF_CLI"
LOCAL_ORG = "local"
# A made-up auth URL in sfdx-core's shape: the stand-in org accepts it, nothing else would.
LOCAL_AUTH_URL = (
    "force://PlatformCLI::5Aep861localStandInRefreshToken@local-standin.my.salesforce.com"
)
TTL_FILE = "validation-ttl-seconds"


@dataclass
class LocalSalesforce:
    state: Path
    program: Path

    def expire_validations_after(self, seconds: float | None) -> None:
        """Validations recorded from now on expire after ``seconds`` (None: the platform's)."""
        path = self.state / TTL_FILE
        if seconds is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(str(seconds))

    def validations(self) -> dict[str, dict[str, object]]:
        path = self.state / "validations.json"
        loaded: dict[str, dict[str, object]] = (
            json.loads(path.read_text()) if path.is_file() else {}
        )
        return loaded

    def stop(self) -> None:
        return None


def write_program(state: Path) -> Path:
    """The ``sf`` the worker runs: the stand-in, with its state named."""
    state.mkdir(parents=True, exist_ok=True)
    program = state / "sf"
    ttl = state / TTL_FILE
    program.write_text(
        "#!/bin/sh\n"
        f"export {STATE_VARIABLE}={shlex.quote(str(state))}\n"
        f"if [ -f {shlex.quote(str(ttl))} ]; then "
        f'export {TTL_VARIABLE}="$(cat {shlex.quote(str(ttl))})"; fi\n'
        f'exec {shlex.quote(sys.executable)} {shlex.quote(str(BIN_DIR / "sf"))} "$@"\n'
    )
    program.chmod(0o755)
    return program


def register_local_org(name: str = LOCAL_ORG, auth_url: str = LOCAL_AUTH_URL) -> str:
    """Store ``auth_url`` in (moto's) Secrets Manager and register the org; returns the ARN."""
    from autodev.aws import client
    from autodev.salesforce.orgs import add_org

    secrets = client("secretsmanager")
    secret_name = f"autodev/local/orgs/{name}"
    try:
        arn = str(secrets.create_secret(Name=secret_name, SecretString=auth_url)["ARN"])
    except secrets.exceptions.ResourceExistsException:
        arn = str(secrets.put_secret_value(SecretId=secret_name, SecretString=auth_url)["ARN"])
        arn = str(secrets.describe_secret(SecretId=secret_name)["ARN"])
    add_org(name, arn, added_by="local-stack")
    return arn


def _start(stack: LocalStack) -> LocalSalesforce:
    from autodev.config import get_settings

    state = get_settings().autodev_state_dir.resolve() / "salesforce"
    program = write_program(state)
    stack.export(SF_CLI_ENV, str(program))
    for name in (LOCAL_ORG, "ci"):  # "ci": full-analysis-improvement's default test org
        register_local_org(name)
    stack.note(f"Salesforce: the stand-in sf ({program}) and the orgs 'local' and 'ci'")
    return LocalSalesforce(state, program)


SERVICE = LocalService(
    name="salesforce",
    start=_start,
    order=35,
    description="the stand-in sf CLI for the tool steps and a registered org 'local'",
)
