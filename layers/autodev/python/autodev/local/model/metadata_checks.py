"""Small, honest checks of what a Salesforce deployment needs, for the scripted deployment steps.

A deployment's validation fails on broken metadata, not on code-review findings: an unreadable
``sfdx-project.json``, a package directory that is not there, an Apex class or trigger without
its ``-meta.xml`` (or with one that is not well-formed), and code without a test class to run
(production deployments need test coverage). These checks read only the workspace; no org is
involved.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

from autodev.local.model.apex_checks import apex_files

PROJECT_FILE = "sfdx-project.json"
_ROOT_TAGS = {".cls": "ApexClass", ".trigger": "ApexTrigger"}
_API_VERSION = re.compile(r"^\d+\.\d+$")
_IS_TEST = re.compile(r"@istest\b", re.IGNORECASE)
_MAX_META_BYTES = 64 * 1024  # a -meta.xml holds a few lines


@dataclass
class MetadataReport:
    """What a check of the project found: the components, their tests, and the problems."""

    package_directories: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    test_classes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def _package_directories(root: Path, report: MetadataReport) -> list[Path]:
    project = root / PROJECT_FILE
    if not project.is_file():
        report.problems.append(f"{PROJECT_FILE} is missing")
        return []
    try:
        definition = json.loads(project.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        report.problems.append(f"{PROJECT_FILE} is not valid JSON: {error}")
        return []
    entries = definition.get("packageDirectories") if isinstance(definition, dict) else None
    if not isinstance(entries, list) or not entries:
        report.problems.append(f"{PROJECT_FILE} lists no packageDirectories")
        return []
    directories: list[Path] = []
    for entry in entries:
        path = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(path, str) or not path:
            report.problems.append(f"{PROJECT_FILE} has a package directory without a path")
        elif not (root / path).is_dir():
            report.problems.append(f"package directory {path} does not exist")
        else:
            report.package_directories.append(path)
            directories.append(root / path)
    return directories


def _meta_problem(source: Path, relative: str) -> str | None:
    meta = source.with_name(source.name + "-meta.xml")
    if not meta.is_file():
        return f"{relative} has no {meta.name}"
    if meta.stat().st_size > _MAX_META_BYTES:
        return f"{relative}-meta.xml is too large for a metadata definition"
    try:
        # ElementTree never fetches external entities, and expat (2.4.1 and later, which
        # Python bundles) caps entity expansion; the size check above bounds the rest.
        element = ElementTree.parse(meta).getroot()  # noqa: S314
    except ElementTree.ParseError as error:
        return f"{relative}-meta.xml is not well-formed XML: {error}"
    expected = _ROOT_TAGS[source.suffix]
    if element.tag.rsplit("}", 1)[-1] != expected:
        return f"{relative}-meta.xml is not an {expected} definition"
    version = next((child for child in element if child.tag.endswith("apiVersion")), None)
    if version is None or not _API_VERSION.match((version.text or "").strip()):
        return f"{relative}-meta.xml has no valid apiVersion"
    return None


def _has_test(name: str, tests: dict[str, str]) -> bool:
    """A test class named for the component, or one that mentions it by name."""
    lowered = name.lower()
    if {lowered + "test", lowered + "_test", "test" + lowered} & {t.lower() for t in tests}:
        return True
    mention = re.compile(rf"\b{re.escape(name)}\b")
    return any(mention.search(text) for text in tests.values())


def check_project(root: Path) -> MetadataReport:
    """Check the Salesforce DX project at ``root`` as a deployment validation would."""
    report = MetadataReport()
    sources: list[tuple[Path, str]] = []
    for directory in _package_directories(root, report):
        sources += [(path, path.relative_to(root).as_posix()) for path in apex_files(directory)]
    texts = {relative: path.read_text(errors="replace") for path, relative in sources}
    tests = {
        Path(relative).stem: texts[relative]
        for _, relative in sources
        if relative.endswith(".cls") and _IS_TEST.search(texts[relative])
    }
    report.test_classes = sorted(tests)
    for path, relative in sources:
        report.components.append(relative)
        problem = _meta_problem(path, relative)
        if problem:
            report.problems.append(problem)
        if path.stem not in tests and not _has_test(path.stem, tests):
            report.problems.append(f"{relative} has no test class")
    return report
