"""Salesforce Code Analyzer, the real engines, as a deterministic step with a typed result.

``run_code_analyzer`` runs ``code_analyzer.cjs`` under Node. That program drives the npm packages
``@salesforce/code-analyzer-core`` with ``@salesforce/code-analyzer-pmd-engine`` (PMD 7's Apex
rules, and CPD) and ``@salesforce/code-analyzer-regex-engine`` (versions pinned in
package-lock.json) the way ``sf code-analyzer run`` does: a repository's ``code-analyzer.yml``
(or ``.yaml``) at the project root is honoured, the default rule selector is ``Recommended``,
and the results file is the core's own JSON output, the same file as
``sf code-analyzer run --output-file results.json``::

    {"runDir": "/abs/project/",
     "violationCounts": {"total": 19, "sev1": 0, "sev2": 6, "sev3": 5, "sev4": 8, "sev5": 0},
     "versions": {"code-analyzer": "0.52.0", "pmd": "0.46.0", "cpd": "0.46.0", "regex": "0.33.0"},
     "violations": [{"rule": "ApexCRUDViolation", "engine": "pmd", "severity": 2,
                     "tags": ["Recommended", "Security", "Apex"], "primaryLocationIndex": 0,
                     "locations": [{"file": "force-app/main/default/classes/X.cls",
                                    "startLine": 11, "startColumn": 28, "endLine": 14,
                                    "endColumn": 14}],
                     "message": "...", "resources": ["https://docs.pmd-code.org/..."]}]}

(code-analyzer-core, ``output-formats/results/json-run-results-format``; file paths are relative
to ``runDir``, the project root.) Severities are 1 Critical, 2 High, 3 Moderate, 4 Low, 5 Info.

The Node process gets a small environment of its own (no secrets of the worker's), a temporary
directory for the engines' working folders, the Java runtime from :mod:`autodev.salesforce.java`
as ``JAVA_HOME``, and a time limit after which it and its Java children are killed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autodev.errors import InvalidInput
from autodev.salesforce.errors import (
    AnalyzerConfigRefused,
    AnalyzerEngineUnavailable,
    ToolFailed,
    ToolMissing,
    ToolTimedOut,
)
from autodev.salesforce.java import JavaRuntime, find_java

RUNNER = Path(__file__).with_name("code_analyzer.cjs")
CORE_PACKAGE = Path("@salesforce") / "code-analyzer-core"
REQUIRED_ENGINES = ("pmd", "regex")
DEFAULT_RULE_SELECTORS = ("Recommended",)
DEFAULT_TIMEOUT_SECONDS = 300.0
# What the Node process may see of the worker's environment: enough to run, no credentials.
_PASSED_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "TZ")


class Severity(IntEnum):
    CRITICAL = 1
    HIGH = 2
    MODERATE = 3
    LOW = 4
    INFO = 5

    @classmethod
    def parse(cls, value: int | str) -> Severity:
        """1-5 or a name (``"high"``), as ``sf code-analyzer run --severity-threshold`` takes."""
        try:
            if isinstance(value, str) and not value.strip().isdigit():
                return cls[value.strip().upper()]
            return cls(int(value))
        except (KeyError, ValueError):
            raise InvalidInput(
                f"severity {value!r} is not one of 1-5 or Critical, High, Moderate, Low, Info"
            ) from None


class _Shape(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")


class CodeLocation(_Shape):
    file: str | None = None
    start_line: int | None = Field(default=None, alias="startLine")
    start_column: int | None = Field(default=None, alias="startColumn")
    end_line: int | None = Field(default=None, alias="endLine")
    end_column: int | None = Field(default=None, alias="endColumn")
    comment: str | None = None


class Violation(_Shape):
    rule: str
    engine: str
    severity: int = Field(ge=1, le=5)
    tags: list[str] = []
    primary_location_index: int = Field(default=0, alias="primaryLocationIndex")
    locations: list[CodeLocation] = []
    message: str
    resources: list[str] = []

    @property
    def location(self) -> CodeLocation:
        if 0 <= self.primary_location_index < len(self.locations):
            return self.locations[self.primary_location_index]
        return CodeLocation()

    @property
    def file(self) -> str | None:
        return self.location.file

    @property
    def line(self) -> int | None:
        return self.location.start_line


class ViolationCounts(_Shape):
    total: int
    sev1: int
    sev2: int
    sev3: int
    sev4: int
    sev5: int

    def of(self, severity: int) -> int:
        return int(getattr(self, f"sev{Severity(severity).value}"))


class CodeAnalyzerOutput(_Shape):
    """The JSON of ``sf code-analyzer run --output-file results.json``."""

    run_dir: str = Field(alias="runDir")
    violation_counts: ViolationCounts = Field(alias="violationCounts")
    versions: dict[str, str]
    violations: list[Violation]


class Finding(_Shape):
    """One violation as a reviewer reads it: rule, where, how bad, what."""

    rule: str
    engine: str
    severity: int
    file: str | None
    line: int | None
    message: str

    def where(self) -> str:
        if self.file is None:
            return "(no file)"
        return f"{self.file}:{self.line}" if self.line is not None else self.file


class AnalyzerResult(_Shape):
    output: CodeAnalyzerOutput
    config_file: str | None = Field(description="the code-analyzer.yml honoured, if any")
    engines: list[str] = Field(description="engines that ran")
    disabled_engines: list[str] = Field(description="required engines the config disabled")
    targets: list[str] | None = Field(description="files analysed; None: the whole project")
    java: str = Field(description="how the PMD engine's Java was found, and its version")
    engine_errors: list[str] = Field(
        default=[], description="errors the engines logged (a crash also shows as a violation)"
    )
    seconds: float

    @property
    def violations(self) -> list[Violation]:
        return self.output.violations

    def counts_by_severity(self) -> dict[int, int]:
        return {severity.value: self.output.violation_counts.of(severity) for severity in Severity}

    def top_findings(self, limit: int = 5) -> list[Finding]:
        ordered = sorted(
            self.violations, key=lambda v: (v.severity, v.file or "", v.line or 0, v.rule)
        )
        return [
            Finding(
                rule=v.rule,
                engine=v.engine,
                severity=v.severity,
                file=v.file,
                line=v.line,
                message=v.message,
            )
            for v in ordered[:limit]
        ]

    def at_or_above(self, threshold: int | str) -> int:
        """How many violations are as severe as ``threshold`` or more (1 is the most severe)."""
        limit = Severity.parse(threshold)
        return sum(self.output.violation_counts.of(s) for s in Severity if s <= limit)

    def passes(self, threshold: int | str) -> bool:
        """The gate of ``sf code-analyzer run --severity-threshold``: nothing at or above it."""
        return self.at_or_above(threshold) == 0


def find_node_modules(start: Path | None = None) -> Path:
    """The ``node_modules`` that holds Code Analyzer's core: next to package.json, upwards."""
    for directory in [(start or RUNNER).resolve(), *(start or RUNNER).resolve().parents]:
        candidate = directory / "node_modules"
        if (candidate / CORE_PACKAGE / "package.json").is_file():
            return candidate
    raise ToolMissing(
        "the npm packages of Code Analyzer are not installed (no node_modules with "
        "@salesforce/code-analyzer-core above this package); run `make setup` (npm ci)"
    )


def _resolve_targets(root: Path, targets: Sequence[Path | str]) -> list[str]:
    resolved: list[str] = []
    for target in targets:
        path = (root / target).resolve()
        if not path.is_relative_to(root):
            raise InvalidInput(f"analyzer target {target} is outside the project {root}")
        if not path.exists():
            raise InvalidInput(f"analyzer target {target} does not exist in {root}")
        resolved.append(str(path))
    if not resolved:
        raise InvalidInput("no analyzer targets given; pass None to analyse the whole project")
    return resolved


def _relative(root: Path, path: str) -> str:
    return str(Path(path).relative_to(root))


def _environment(node: str, java: JavaRuntime, node_modules: Path, tmp: Path) -> dict[str, str]:
    environment = {name: os.environ[name] for name in _PASSED_ENVIRONMENT if name in os.environ}
    environment["PATH"] = os.pathsep.join(
        [str(Path(node).parent), environment.get("PATH", os.defpath)]
    )
    environment.update(
        HOME=str(tmp),
        TMPDIR=str(tmp),
        JAVA_HOME=str(java.home),
        NODE_PATH=str(node_modules),
    )
    return environment


def _run_node(
    command: list[str], cwd: Path, environment: dict[str, str], timeout: float
) -> tuple[int, str, str]:
    # A session of its own, so a timeout can stop Node and the Java processes it started.
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise ToolTimedOut(f"Code Analyzer did not finish within {timeout:g} s") from None
    return process.returncode, stdout, stderr


def _status(stdout: str, stderr: str, returncode: int) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        status = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        status = None
    if not isinstance(status, dict) or "ok" not in status:
        tail = (stderr.strip().splitlines() or ["no output"])[-1]
        raise ToolFailed(f"Code Analyzer's runner crashed (exit {returncode}): {tail}")
    return status


def run_code_analyzer(
    project_root: Path,
    *,
    targets: Sequence[Path | str] | None = None,
    config_file: Path | None = None,
    rule_selectors: Sequence[str] = DEFAULT_RULE_SELECTORS,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    node: str | None = None,
    node_modules: Path | None = None,
    java: JavaRuntime | None = None,
) -> AnalyzerResult:
    """Analyse ``targets`` (files or folders in the project) or, when None, the whole project.

    The workspace is always the whole project, so engines see the files the targets depend
    on; ``config_file`` overrides the project's own ``code-analyzer.yml``.
    """
    root = project_root.resolve()
    if not root.is_dir():
        raise InvalidInput(f"project {project_root} is not a directory")
    target_paths = None if targets is None else _resolve_targets(root, targets)
    if config_file is not None and not config_file.is_file():
        raise InvalidInput(f"Code Analyzer config {config_file} does not exist")
    node = node or shutil.which("node")
    if node is None:
        raise ToolMissing("Code Analyzer needs Node.js 20 or later: no `node` on PATH")
    modules = node_modules or find_node_modules()
    runtime = java or find_java()

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="autodev-analyzer-") as scratch:
        work = Path(scratch)
        (work / "tmp").mkdir()
        request = {
            "workspace": [str(root)],
            "targets": target_paths,
            "configFile": str(config_file.resolve()) if config_file else None,
            "ruleSelectors": list(rule_selectors),
            "requiredEngines": list(REQUIRED_ENGINES),
            "outputFile": str(work / "results.json"),
        }
        (work / "request.json").write_text(json.dumps(request), encoding="utf-8")
        returncode, stdout, stderr = _run_node(
            [node, str(RUNNER), str(work / "request.json")],
            root,
            _environment(node, runtime, modules, work / "tmp"),
            timeout_seconds,
        )
        status = _status(stdout, stderr, returncode)
        if not status["ok"]:
            message = " ".join(str(status.get("message", "")).split())
            kind = status.get("kind")
            if kind == "config":
                raise AnalyzerConfigRefused(f"Code Analyzer refused its configuration: {message}")
            if kind == "engine":
                raise AnalyzerEngineUnavailable(f"Code Analyzer: {message}")
            if kind == "workspace":
                raise InvalidInput(f"Code Analyzer refused the files it was given: {message}")
            raise ToolFailed(f"Code Analyzer failed: {message}")
        try:
            output = CodeAnalyzerOutput.model_validate_json(
                (work / "results.json").read_text(encoding="utf-8")
            )
        except (OSError, ValidationError) as error:
            raise ToolFailed(f"Code Analyzer wrote no readable results: {error}") from None
    java_command = status.get("javaCommand")
    java_used = f"Java {runtime.major_version} from {runtime.source} ({runtime.java})"
    if java_command and Path(java_command) != runtime.java:
        # The repository's config named engines.pmd.java_command, which the engine prefers.
        java_used = f"{java_command} (engines.pmd.java_command)"
    return AnalyzerResult(
        output=output,
        config_file=status.get("configFile"),
        engines=list(status.get("engines", [])),
        disabled_engines=list(status.get("disabledEngines", [])),
        targets=None if target_paths is None else [_relative(root, t) for t in target_paths],
        java=java_used,
        engine_errors=[" ".join(str(e).split()) for e in status.get("errors", [])],
        seconds=round(time.monotonic() - started, 3),
    )
