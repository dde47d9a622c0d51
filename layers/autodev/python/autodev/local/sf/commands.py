"""The four ``sf`` commands the stand-in answers, each returning (JSON document, exit status)."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import shapes, state
from .apex import (
    COVERAGE_REQUIRED,
    ApexUnit,
    MethodOutcome,
    Project,
    compile_problems,
    load_project,
    metadata_problems,
    methods_of_test,
)

Answer = tuple[dict[str, Any], int]

APEX_COMMAND = "Test"  # plugin-apex src/commands/apex/run/test.ts: class Test
VALIDATE_COMMAND = "DeployMetadataValidate"
QUICK_COMMAND = "DeployMetadataQuick"
LOGIN_COMMAND = "LoginSfdxUrl"
TEST_FAILURE_EXIT = 100  # plugin-apex src/reporters/testReporter.ts FAILURE_EXIT_CODE
# sfdx-core AuthInfo.parseSfdxAuthUrl
AUTH_URL = re.compile(
    r"^force://([a-zA-Z0-9._-]+={0,2}):([a-zA-Z0-9._-]*={0,2}):([a-zA-Z0-9._-]+={0,2})@([a-zA-Z0-9:._-]+)"
)
JOB_ID = re.compile(r"^0Af[a-zA-Z0-9]{12}(?:[a-zA-Z0-9]{3})?$")
INVALID_AUTH_URL_MESSAGE = (
    'Invalid SFDX authorization URL. Must be in the format "force://<clientId>:<clientSecret>:'
    '<refreshToken>@<instanceUrl>". Note that the "instanceUrl" inside the SFDX authorization '
    'URL doesn\'t include the protocol ("https://"). Run "org display --target-org" on an org '
    "to see an example of an SFDX authorization URL."
)
CANNOT_QUICK_DEPLOY = (
    "Job ID can't be used for quick deployment. Possible reasons include the deployment hasn't "
    "been validated, has already been deployed, or the validation expired because you ran it "
    "more than 10 days ago."
)


class CommandError(Exception):
    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__(answer["message"])
        self.answer = answer


def resolve_org(target: str | None, command: str) -> dict[str, Any]:
    if not target:
        raise CommandError(
            shapes.error(
                "NoDefaultEnvError",
                "No default environment found. Use -o or --target-org to specify an environment.",
                command,
            )
        )
    org = state.find_org(target)
    if org is None:
        # sfdx-core messages/core.md namedOrgNotFound, thrown as NamedOrgNotFoundError
        raise CommandError(
            shapes.error(
                "NamedOrgNotFoundError",
                f"No authorization information found for {target}.",
                command,
            )
        )
    return org


def require_project(root: Path, command: str) -> None:
    if not (root / "sfdx-project.json").is_file():
        # sf-plugins-core messages: errors.RequiresProject
        raise CommandError(
            shapes.error(
                "RequiresProjectError",
                "This command is required to run from within a Salesforce project directory.",
                command,
            )
        )


# --- sf apex run test --------------------------------------------------------------------------


def _select_tests(project: Project, names: list[str]) -> list[tuple[ApexUnit, str]]:
    chosen: list[tuple[ApexUnit, str]] = []
    for name in names:
        class_name, _, method = name.partition(".")
        unit = project.units.get(class_name)
        if unit is None or not unit.is_test:
            continue
        for candidate in methods_of_test(unit):
            if not method or candidate == method:
                chosen.append((unit, candidate))
    return chosen


def _all_tests(project: Project) -> list[tuple[ApexUnit, str]]:
    return [(unit, method) for unit in project.tests for method in methods_of_test(unit)]


def _coverage(project: Project, results: list[MethodOutcome]) -> dict[str, tuple[int, int]]:
    """{unit name: (covered lines, total lines)} over the code the run exercised."""
    touched = set().union(*(r.exercised for r in results)) if results else set()
    return {
        unit.name: (
            len(unit.executable_lines()) if unit.name in touched else 0,
            len(unit.executable_lines()),
        )
        for unit in project.code
    }


def apex_run_test(
    root: Path,
    target: str | None,
    class_names: list[str],
    tests: list[str],
    test_level: str | None,
    code_coverage: bool,
) -> Answer:
    org = resolve_org(target, APEX_COMMAND)
    require_project(root, APEX_COMMAND)
    project = load_project(root)
    if (class_names or tests) and test_level not in (None, "RunSpecifiedTests"):
        raise CommandError(
            shapes.error(
                "Error",
                "When specifying classnames, suitenames, or tests, indicate RunSpecifiedTests "
                "as the testlevel",
                APEX_COMMAND,
            )
        )
    chosen = (
        _select_tests(project, class_names + tests)
        if (class_names or tests)
        else _all_tests(project)
    )
    if not chosen:
        raise CommandError(
            shapes.error(
                "Error",
                "There are no Apex tests to run in this org.",
                APEX_COMMAND,
                actions=["Ensure Apex Tests exist in the org, and try again."],
            )
        )
    started = time.time()
    results = [project.run_test(unit, method) for unit, method in chosen]
    passing = sum(r.outcome == "Pass" for r in results)
    failing = len(results) - passing
    run_id = shapes.new_id("707")
    total_ms = sum(r.run_time_ms for r in results)
    summary: dict[str, Any] = {
        "failRate": shapes.percent(failing, len(results)),
        "failing": failing,
        "hostname": org["instanceUrl"],
        "orgId": org["orgId"],
        "outcome": "Failed" if failing else "Passed",
        "passRate": shapes.percent(passing, len(results)),
        "passing": passing,
        "skipped": 0,
        "testRunId": run_id,
        "testStartTime": shapes.timestamp(),
        "testsRan": len(results),
        "userId": org["userId"],
        "username": org["username"],
        "commandTime": f"{int((time.time() - started) * 1000) + 40} ms",
        "testExecutionTime": f"{total_ms} ms",
        "testTotalTime": f"{total_ms} ms",
    }
    tests_json = [
        {
            "Id": shapes.salesforce_id("07M", run_id, r.test_class.name, r.method),
            "QueueItemId": shapes.salesforce_id("709", run_id, r.test_class.name),
            "StackTrace": r.stack_trace or None,
            "Message": r.message or None,
            "AsyncApexJobId": run_id,
            "MethodName": r.method,
            "Outcome": r.outcome,
            "ApexClass": {
                "Id": shapes.salesforce_id("01p", r.test_class.name),
                "Name": r.test_class.name,
                "NamespacePrefix": None,
            },
            "RunTime": r.run_time_ms,
            "FullName": f"{r.test_class.name}.{r.method}",
        }
        for r in results
    ]
    body: dict[str, Any] = {"summary": summary, "tests": tests_json}
    if code_coverage:
        coverage = _coverage(project, results)
        run_units = {name for r in results for name in r.exercised}
        covered = sum(c for name, (c, _) in coverage.items() if name in run_units)
        total = sum(t for name, (_, t) in coverage.items() if name in run_units)
        org_covered = sum(c for c, _ in coverage.values())
        org_total = sum(t for _, t in coverage.values())
        summary["orgWideCoverage"] = shapes.percent(org_covered, org_total)
        summary["testRunCoverage"] = shapes.percent(covered, total)
        units = {u.name: u for u in project.code}
        body["coverage"] = {
            "coverage": [
                {
                    "id": shapes.salesforce_id(
                        "01p" if units[name].kind == "ApexClass" else "01q", name
                    ),
                    "name": name,
                    "totalLines": total_lines,
                    "lines": {str(n): 1 for n in units[name].executable_lines()},
                    "totalCovered": covered_lines,
                    "coveredPercent": round(100 * covered_lines / total_lines)
                    if total_lines
                    else 0,
                }
                for name, (covered_lines, total_lines) in sorted(coverage.items())
                if name in run_units
            ],
            "records": [
                {
                    "ApexTestClass": {
                        "Id": shapes.salesforce_id("07M", run_id, r.test_class.name, r.method),
                        "Name": r.test_class.name,
                    },
                    "TestMethodName": r.method,
                    "NumLinesCovered": coverage[name][0],
                    "ApexClassOrTrigger": {"Id": shapes.salesforce_id("01p", name), "Name": name},
                    "NumLinesUncovered": coverage[name][1] - coverage[name][0],
                }
                for r in results
                for name in sorted(r.exercised)
            ],
            "summary": {
                "totalLines": total,
                "coveredLines": covered,
                "orgWideCoverage": summary["orgWideCoverage"],
                "testRunCoverage": summary["testRunCoverage"],
            },
        }
    status = TEST_FAILURE_EXIT if failing else 0
    return shapes.success(body, status=status), status


# --- sf project deploy validate / quick ---------------------------------------------------------


def _deploy_message(unit: ApexUnit, root: Path, moment: str, **extra: Any) -> dict[str, Any]:
    relative = unit.path.relative_to(root).as_posix()
    file_name = "/".join(relative.split("/")[-2:])  # the Metadata API's 'classes/X.cls'
    message = {
        "changed": "false",
        "componentType": unit.kind,
        "created": "true",
        "createdDate": moment,
        "deleted": "false",
        "fileName": file_name,
        "fullName": unit.name,
        "success": "true",
    }
    message.update(extra)
    return message


def _deploy_status(
    job_id: str,
    org: dict[str, Any],
    *,
    check_only: bool,
    success: bool,
    components: int,
    errors: int,
    tests_total: int,
    test_errors: int,
    details: dict[str, Any],
) -> dict[str, Any]:
    moment = shapes.timestamp()
    return {
        "checkOnly": check_only,
        "completedDate": moment,
        "createdBy": org["userId"][:15],
        "createdByName": "Autodev Stand-in",
        "createdDate": moment,
        "details": details,
        "done": True,
        "id": job_id,
        "ignoreWarnings": False,
        "lastModifiedDate": moment,
        "numberComponentErrors": errors,
        "numberComponentsDeployed": components - errors,
        "numberComponentsTotal": components,
        "numberTestErrors": test_errors,
        "numberTestsCompleted": tests_total - test_errors,
        "numberTestsTotal": tests_total,
        "rollbackOnError": True,
        "runTestsEnabled": tests_total > 0,
        "startDate": moment,
        "status": "Succeeded" if success else "Failed",
        "success": success,
    }


def deploy_validate(
    root: Path, target: str | None, source_dirs: list[str], test_level: str, tests: list[str]
) -> Answer:
    org = resolve_org(target, VALIDATE_COMMAND)
    require_project(root, VALIDATE_COMMAND)
    if test_level == "RunSpecifiedTests" and not tests:
        raise CommandError(
            shapes.error(
                "NoTestsSpecifiedError",
                "You must specify tests using the --tests flag if the --test-level flag is set "
                "to RunSpecifiedTests.",
                VALIDATE_COMMAND,
            )
        )
    directories = [root / d for d in source_dirs] if source_dirs else None
    project = load_project(root, directories)
    job_id = shapes.new_id("0Af")
    moment = shapes.timestamp()
    failures: list[dict[str, Any]] = []
    file_failures: list[str] = []
    for unit in sorted(project.units.values(), key=lambda u: u.name):
        for problem in metadata_problems(unit) + compile_problems(unit):
            located = problem.line is not None and problem.column is not None
            extra: dict[str, Any] = {
                "problem": problem.problem,
                "problemType": "Error",
                "success": "false",
            }
            if located:
                extra.update(lineNumber=str(problem.line), columnNumber=str(problem.column))
            failures.append(_deploy_message(unit, root, moment, created="false", **extra))
            error_text = (
                f"{problem.problem} ({problem.line}:{problem.column})"
                if located
                else problem.problem
            )
            # validate.ts over getFileResponseFailures: "<problemType> in <fullName> - <error>"
            file_failures.append(f"Error in {unit.name} - {error_text}")
    successes = [
        _deploy_message(unit, root, moment)
        for unit in sorted(project.units.values(), key=lambda u: u.name)
        if unit.name not in {f["fullName"] for f in failures}
    ]
    results: list[MethodOutcome] = []
    warnings: list[dict[str, Any]] = []
    if not failures:
        chosen = (
            _select_tests(project, tests)
            if test_level == "RunSpecifiedTests"
            else _all_tests(project)
        )
        results = [project.run_test(unit, method) for unit, method in chosen]
        coverage = _coverage(project, results)
        covered = sum(c for c, _ in coverage.values())
        total = sum(t for _, t in coverage.values())
        percent = round(100 * covered / total) if total else 100
        if results and percent < COVERAGE_REQUIRED:
            warnings.append(
                {
                    "id": "",
                    "message": f"Average test coverage across all Apex Classes and Triggers is "
                    f"{percent}%, at least {COVERAGE_REQUIRED}% test coverage is required.",
                    "namespace": "",
                }
            )
    failed_tests = [r for r in results if r.outcome == "Fail"]
    succeeded = not failures and not failed_tests and not warnings
    run_test_result: dict[str, Any] = {
        "numFailures": str(len(failed_tests)),
        "numTestsRun": str(len(results)),
        "totalTime": str(sum(r.run_time_ms for r in results)),
        "successes": [
            {
                "id": shapes.salesforce_id("01p", r.test_class.name),
                "methodName": r.method,
                "name": r.test_class.name,
                "time": str(r.run_time_ms),
            }
            for r in results
            if r.outcome == "Pass"
        ],
        "failures": [
            {
                "id": shapes.salesforce_id("01p", r.test_class.name),
                "message": r.message,
                "methodName": r.method,
                "name": r.test_class.name,
                "packageName": r.test_class.name,
                "stackTrace": r.stack_trace,
                "time": str(r.run_time_ms),
                "type": "Class",
            }
            for r in failed_tests
        ],
        "codeCoverageWarnings": warnings,
    }
    details: dict[str, Any] = {"componentSuccesses": successes, "runTestResult": run_test_result}
    if failures:
        details["componentFailures"] = failures
    response = _deploy_status(
        job_id,
        org,
        check_only=True,
        success=succeeded,
        components=len(project.units),
        errors=len({f["fullName"] for f in failures}),
        tests_total=len(results),
        test_errors=len(failed_tests),
        details=details,
    )
    with state.validations() as saved:
        saved[job_id] = {
            "org": org["username"],
            "created": time.time(),
            "expires": time.time() + state.ttl_seconds(),
            "status": response["status"],
            "components": [u.name for u in project.units.values()],
            "deployed": None,
        }
    if not succeeded:
        # plugin-deploy-retrieve src/commands/project/deploy/validate.ts: error.FailedValidation
        lines = [w["message"] for w in warnings]
        lines.append("".join(f"{line}\n" for line in file_failures))
        lines.append(
            f"{len({f['fullName'] for f in failures})} component error(s)" if failures else ""
        )
        lines.append(
            ",".join(f"{r.test_class.name}.{r.method} - {r.message}" for r in failed_tests)
        )
        due_to = "\n".join(lines).strip()
        raise CommandError(
            shapes.error(
                "FailedValidationError",
                f"Failed to validate the deployment ({job_id}). Due To:\n{due_to}",
                VALIDATE_COMMAND,
                data={"deployId": job_id},
            )
        )
    files = [
        {"fullName": unit.name, "type": unit.kind, "state": "Changed", "filePath": str(path)}
        for unit in sorted(project.units.values(), key=lambda u: u.name)
        for path in (unit.path, unit.meta_path)
    ]
    response.update(
        files=files,
        deployUrl=f"{org['instanceUrl']}/lightning/setup/DeployStatus/page?address=%2Fchangemgmt%2FmonitorDeploymentsDetails.apexp%3FasyncId%3D{job_id}",
    )
    return shapes.success(response), 0


def deploy_quick(target: str | None, job_id: str | None) -> Answer:
    org = resolve_org(target, QUICK_COMMAND)
    if not job_id or not JOB_ID.match(job_id):
        raise CommandError(
            shapes.error(
                "Error",
                "Parsing --job-id\n\tThe value must be a valid Salesforce ID starting with 0Af: "
                f"{job_id}",
                QUICK_COMMAND,
                exit_code=2,
            )
        )
    deploy_id = shapes.new_id("0Af")
    with state.validations() as saved:
        validation = next((v for k, v in saved.items() if k.startswith(job_id)), None)
        usable = (
            validation is not None
            and validation["status"] == "Succeeded"
            and validation["deployed"] is None
            and validation["org"] == org["username"]
            and time.time() < validation["expires"]
        )
        if not usable:
            # The Metadata API answers INVALID_ID_FIELD; quick.ts catch() renames it.
            raise CommandError(
                shapes.error("CannotQuickDeployError", CANNOT_QUICK_DEPLOY, QUICK_COMMAND)
            )
        assert validation is not None
        validation["deployed"] = deploy_id
        components = len(validation["components"])
    response = _deploy_status(
        deploy_id,
        org,
        check_only=False,
        success=True,
        components=components,
        errors=0,
        tests_total=0,
        test_errors=0,
        details={
            "componentSuccesses": [],
            "runTestResult": {"numFailures": "0", "numTestsRun": "0", "totalTime": "0"},
        },
    )
    # A quick deploy's MetadataApiDeploy has no component set, so the formatter lists no files.
    response.update(
        files=[],
        deployUrl=f"{org['instanceUrl']}/lightning/setup/DeployStatus/page?address=%2Fchangemgmt%2FmonitorDeploymentsDetails.apexp%3FasyncId%3D{deploy_id}",
    )
    return shapes.success(response), 0


# --- sf org login sfdx-url ----------------------------------------------------------------------


def login_sfdx_url(url_file: str | None, alias: str | None) -> Answer:
    if not url_file or not Path(url_file).is_file():
        raise CommandError(
            shapes.error("Error", f"No file found at {url_file}", LOGIN_COMMAND, exit_code=2)
        )
    text = Path(url_file).read_text(encoding="utf-8")
    if url_file.endswith(".json"):
        document = json.loads(text)
        text = (document.get("result") or {}).get("sfdxAuthUrl") or document.get("sfdxAuthUrl", "")
    match = AUTH_URL.match(text.strip())
    if not match:
        # sfdx-core AuthInfo.parseSfdxAuthUrl; messages/core.md invalidSfdxAuthUrlError
        raise CommandError(
            shapes.error(
                "INVALID_SFDX_AUTH_URL",
                INVALID_AUTH_URL_MESSAGE,
                LOGIN_COMMAND,
            )
        )
    client_id, _secret, refresh_token, host = match.groups()
    instance = f"https://{host}"
    username = f"autodev-standin@{urlsplit(instance).hostname}"
    record = {
        "username": username,
        "orgId": shapes.salesforce_id("00D", host),
        "userId": shapes.salesforce_id("005", host),
        "instanceUrl": instance,
        "loginUrl": instance,
        "clientId": client_id,
        "refreshTokenSha256": hashlib.sha256(refresh_token.encode()).hexdigest(),
        "created": str(int(time.time() * 1000)),
    }
    state.save_org(record, alias)
    # plugin-auth src/common.ts redactAuthFields: secrets out, the access token replaced.
    result = {
        "accessToken": "[REDACTED] Use 'sf org auth show-access-token' to view",
        "clientId": client_id,
        "created": record["created"],
        "instanceUrl": instance,
        "isDevHub": False,
        "loginUrl": instance,
        "orgId": record["orgId"],
        "username": username,
    }
    warning = (
        "Secrets are now hidden from 'sf org login sfdx-url' command output. Use the 'sf org auth' "
        "commands instead. As a temporary workaround, you can set SF_TEMP_SHOW_SECRETS=true to "
        "render these secrets. This workaround will be removed in an upcoming release."
    )
    return shapes.success(result, warnings=[warning]), 0
