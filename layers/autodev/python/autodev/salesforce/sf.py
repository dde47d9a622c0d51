"""The Salesforce CLI (``sf``) steps: Apex tests, deploy validate, quick deploy, org login.

Each method runs one ``sf ... --json`` command and returns a typed result
(:mod:`autodev.salesforce.sf_results`). Outcomes a pipeline expects (failing tests, a failed
validation, a refused quick deploy) are results, so a gate can read them; anything else the CLI
answers with an error (no such org, bad flags) raises :class:`SfCommandError`.

``sf`` runs with ``HOME`` set to the caller's config directory, where it keeps the org's
authorisation (``~/.sf``, ``~/.sfdx``; sfdx-core ``Global.SF_DIR``), with the generic Unix
keychain (a key file in that directory, no desktop keyring), without telemetry, update checks or
log files, and with none of the worker's own environment except ``PATH``, locale and proxy
settings. The SFDX auth URL is written to a file readable by the owner only, passed as
``--sfdx-url-file`` (never in argv), deleted after the login, and scrubbed from any output
before it is parsed, logged or put in an error.

JSON sources: the envelopes from salesforcecli/sf-plugins-core (``SfCommand.toSuccessJson``,
``SfCommandError.toJson``): ``{"status", "result", "warnings"}`` or ``{"name", "message",
"exitCode", "data", ...}``; ``sf apex run test`` exits 100 with a success envelope when a test
fails (plugin-apex ``testReporter.ts``); ``project deploy validate`` fails with
``FailedValidationError`` carrying ``data.deployId``; ``project deploy quick`` refuses an
expired, deployed or unknown validation with ``CannotQuickDeployError`` (plugin-deploy-retrieve
``quick.ts``); ``org login sfdx-url`` returns plugin-auth's redacted ``AuthFields``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from autodev.errors import InvalidInput
from autodev.observability import child_logger
from autodev.salesforce.errors import SfCommandError, ToolFailed, ToolMissing, ToolTimedOut
from autodev.salesforce.sf_results import (
    ApexTestRun,
    DeployOutcome,
    OrgLogin,
    QuickDeployOutcome,
)

log = child_logger(__name__)

DEFAULT_TIMEOUT_SECONDS = 3600.0
TEST_LEVELS = ("RunLocalTests", "RunAllTestsInOrg", "RunSpecifiedTests")
# sfdx-core AuthInfo.parseSfdxAuthUrl
_AUTH_URL = re.compile(
    r"^force://([a-zA-Z0-9._-]+={0,2}):([a-zA-Z0-9._-]*={0,2}):([a-zA-Z0-9._-]+={0,2})@([a-zA-Z0-9:._-]+)"
)
_JOB_ID = re.compile(r"^0Af[a-zA-Z0-9]{12}(?:[a-zA-Z0-9]{3})?$")
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,80}$")
_PASSED_ENVIRONMENT = (
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
    "NODE_EXTRA_CA_CERTS",
)
_CLI_SETTINGS = {
    "SF_USE_GENERIC_UNIX_KEYCHAIN": "true",
    "SF_DISABLE_TELEMETRY": "true",
    "SF_AUTOUPDATE_DISABLE": "true",
    "SF_SKIP_NEW_VERSION_CHECK": "true",
    "SF_DISABLE_LOG_FILE": "true",
    "SF_USE_PROGRESS_BAR": "false",
    "SF_JSON_TO_STDOUT": "true",
}


@dataclass(frozen=True)
class Envelope:
    """One ``--json`` answer: ``result`` on success, ``error`` (the error object) otherwise."""

    exit_code: int
    result: Any = None
    error: dict[str, Any] | None = None


def _one_line(text: str, limit: int = 600) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _redact(text: str, hidden: Sequence[str]) -> str:
    for secret in sorted(hidden, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "[REDACTED]")
    return text


def _check_name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise InvalidInput(f"{what} {value!r} is not a valid org alias or username")
    return value


@dataclass(frozen=True)
class SfCli:
    """``sf`` for one config directory (its HOME: where the logged-in orgs live)."""

    config_dir: Path
    executable: str = "sf"
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def _environment(self) -> dict[str, str]:
        environment = {k: os.environ[k] for k in _PASSED_ENVIRONMENT if k in os.environ}
        environment.update(_CLI_SETTINGS)
        environment["HOME"] = str(self.config_dir)
        environment.update(self.extra_env)
        return environment

    def _run(
        self, words: Sequence[str], flags: Sequence[str], cwd: Path, hidden: Sequence[str] = ()
    ) -> Envelope:
        environment = self._environment()
        program = shutil.which(self.executable, path=environment.get("PATH"))
        if program is None:
            raise ToolMissing(f"the Salesforce CLI (`{self.executable}`) is not on PATH")
        self.config_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        command = " ".join(words)
        log.info("running sf %s", command)
        process = subprocess.Popen(
            [program, *words, *flags, "--json"],
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=self.timeout_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise ToolTimedOut(
                f"sf {command} did not finish within {self.timeout_seconds:g} s"
            ) from None
        stdout, stderr = _redact(stdout, hidden), _redact(stderr, hidden)
        for text in (stdout, stderr):
            try:
                document = json.loads(text)
            except json.JSONDecodeError:
                continue
            if isinstance(document, dict) and "result" in document:
                return Envelope(process.returncode, result=document["result"])
            if isinstance(document, dict) and "name" in document and "message" in document:
                return Envelope(process.returncode, error=document)
        tail = (stderr.strip() or stdout.strip() or "no output").splitlines()[-1]
        raise ToolFailed(
            f"sf {command} gave no JSON answer (exit {process.returncode}): {_one_line(tail)}"
        )

    @staticmethod
    def _raise(command: str, error: dict[str, Any], exit_code: int) -> SfCommandError:
        return SfCommandError(
            command,
            str(error.get("name", "Error")),
            _one_line(str(error.get("message", ""))),
            int(error.get("exitCode", exit_code)),
        )

    # --- the steps ------------------------------------------------------------------------

    def login_sfdx_url(self, auth_url: SecretStr, alias: str) -> OrgLogin:
        """Log in to the org of ``auth_url`` as ``alias``, in this config directory."""
        _check_name(alias, "alias")
        url = auth_url.get_secret_value().strip()
        match = _AUTH_URL.match(url)
        if match is None:
            raise InvalidInput(
                "the SFDX auth URL is not of the form "
                "force://<clientId>:<clientSecret>:<refreshToken>@<instanceUrl>"
            )
        hidden = [url, match.group(2), match.group(3)]
        self.config_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        url_file = self.config_dir / f".autodev-auth-{secrets.token_hex(8)}"
        descriptor = os.open(url_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(url)
            answer = self._run(
                ["org", "login", "sfdx-url"],
                ["--sfdx-url-file", str(url_file), "--alias", alias],
                self.config_dir,
                hidden,
            )
        finally:
            url_file.unlink(missing_ok=True)
        if answer.error is not None:
            raise self._raise("org login sfdx-url", answer.error, answer.exit_code)
        result = answer.result or {}
        return OrgLogin(
            alias=alias,
            username=str(result.get("username", "")),
            org_id=str(result.get("orgId", "")),
            instance_url=str(result.get("instanceUrl", "")),
        )

    def run_apex_tests(
        self,
        target_org: str,
        project_dir: Path,
        *,
        class_names: Sequence[str] = (),
        tests: Sequence[str] = (),
        test_level: str | None = None,
        wait_minutes: int = 30,
    ) -> ApexTestRun:
        """``sf apex run test`` with coverage; named classes/tests, else ``test_level``."""
        flags = ["--target-org", _check_name(target_org, "target org"), "--code-coverage"]
        flags += ["--wait", str(wait_minutes)]
        for name in class_names:
            flags += ["--class-names", _check_name(name, "test class")]
        for name in tests:
            flags += ["--tests", _check_name(name, "test")]
        if not class_names and not tests:
            level = test_level or "RunLocalTests"
            if level not in TEST_LEVELS or level == "RunSpecifiedTests":
                raise InvalidInput(f"test level {level!r} needs named tests or is unknown")
            flags += ["--test-level", level]
        answer = self._run(["apex", "run", "test"], flags, project_dir)
        if answer.error is not None:
            raise self._raise("apex run test", answer.error, answer.exit_code)
        if not isinstance(answer.result, dict) or "summary" not in answer.result:
            # Only a testRunId: the run outlived --wait.
            raise ToolTimedOut(f"Apex tests did not finish within {wait_minutes} minutes")
        return ApexTestRun.from_json(answer.result)

    def validate_deploy(
        self,
        target_org: str,
        project_dir: Path,
        *,
        source_dirs: Sequence[str] = ("force-app",),
        test_level: str = "RunLocalTests",
        tests: Sequence[str] = (),
        wait_minutes: int = 33,
    ) -> DeployOutcome:
        """``sf project deploy validate``: a check-only deploy whose job id a quick deploy uses."""
        if test_level not in TEST_LEVELS:
            raise InvalidInput(f"test level {test_level!r} is not one of {', '.join(TEST_LEVELS)}")
        if test_level == "RunSpecifiedTests" and not tests:
            raise InvalidInput("RunSpecifiedTests needs the tests to run")
        flags = ["--target-org", _check_name(target_org, "target org")]
        for directory in source_dirs:
            if Path(directory).is_absolute() or ".." in Path(directory).parts:
                raise InvalidInput(f"source dir {directory} must be inside the project")
            flags += ["--source-dir", directory]
        flags += ["--test-level", test_level, "--wait", str(wait_minutes)]
        for name in tests:
            flags += ["--tests", _check_name(name, "test")]
        answer = self._run(["project", "deploy", "validate"], flags, project_dir)
        if answer.error is not None:
            data = answer.error.get("data") or {}
            if answer.error.get("name") == "FailedValidationError" and data.get("deployId"):
                return DeployOutcome.failed_validation(
                    str(data["deployId"]), str(answer.error.get("message", ""))
                )
            raise self._raise("project deploy validate", answer.error, answer.exit_code)
        return DeployOutcome.from_json(answer.result)

    def quick_deploy(
        self, target_org: str, project_dir: Path, job_id: str, *, wait_minutes: int = 33
    ) -> QuickDeployOutcome:
        """``sf project deploy quick --job-id``: deploy a validation without running tests again."""
        if not _JOB_ID.match(job_id):
            raise InvalidInput(f"job id {job_id!r} is not a deploy id (0Af, 15 or 18 characters)")
        flags = ["--job-id", job_id, "--target-org", _check_name(target_org, "target org")]
        flags += ["--wait", str(wait_minutes)]
        answer = self._run(["project", "deploy", "quick"], flags, project_dir)
        if answer.error is not None:
            if answer.error.get("name") == "CannotQuickDeployError":
                return QuickDeployOutcome(
                    validation_job_id=job_id,
                    deploy=None,
                    refused=True,
                    refusal=_one_line(str(answer.error.get("message", ""))),
                )
            raise self._raise("project deploy quick", answer.error, answer.exit_code)
        return QuickDeployOutcome(
            validation_job_id=job_id,
            deploy=DeployOutcome.from_json(answer.result),
            refused=False,
            refusal=None,
        )
