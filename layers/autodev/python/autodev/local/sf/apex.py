"""What the stand-in `sf` can see in a Salesforce DX project: its Apex, the defects, the tests.

Everything here reads source text; nothing runs Apex. The checks are few and named in the
package docstring; each answers the way the platform would for the defect it finds.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

SOQL_LIMIT = 100
DML_LIMIT = 150
COVERAGE_REQUIRED = 75

_NOT_METHODS = {"if", "for", "while", "catch", "switch", "when", "return", "new", "else", "do"}
_STRING_METHODS = (
    "equals|equalsIgnoreCase|contains|startsWith|endsWith|toLowerCase|toUpperCase|trim|"
    "length|split|substring|indexOf|replace"
)
_NULL_DEREF = re.compile(rf"\b([a-z]\w*)\.([A-Z]\w*)\.({_STRING_METHODS})\s*\(")
_FOR_EACH = re.compile(r"\bfor\s*\(\s*(\w+)\s+(\w+)\s*:")
_FOR_HEADER = re.compile(r"\bfor\s*\(", re.IGNORECASE)
_SOQL = re.compile(r"\[\s*select\b", re.IGNORECASE)
_DML = re.compile(
    r"\b(?:insert|update|upsert|delete|undelete)\s+[\w(]|\bDatabase\.(?:insert|update|upsert|delete)\b",
    re.IGNORECASE,
)
_TRIGGER = re.compile(r"\btrigger\s+(\w+)\s+on\s+(\w+)\s*\(([^)]*)\)", re.IGNORECASE)
_CLASS = re.compile(r"\b(?:class|interface|enum)\s+(\w+)", re.IGNORECASE)
_TEST_METHOD = re.compile(
    r"@istest\b(?:\s*\([^)]*\))?\s+(?:(?:public|private|global|static|protected)\s+)*void\s+(\w+)\s*\("
    r"|\btestmethod\s+void\s+(\w+)\s*\(",
    re.IGNORECASE,
)
_BULK_LOOP = re.compile(r"\bfor\s*\(\s*Integer\s+\w+\s*=\s*0\s*;\s*\w+\s*(<=?)\s*(\d+)")
_ASSERT_FALSE = re.compile(r"\bSystem\.assert\s*\(\s*false\b", re.IGNORECASE)
_METHOD_START = re.compile(r"\b(\w+)\s*\([^;{}()]*\)\s*\{")

Kind = Literal["ApexClass", "ApexTrigger"]


def blank_comments_and_strings(source: str) -> str:
    """The source with comments and string literals blanked, same length and line breaks."""
    out = list(source)
    i, n = 0, len(source)
    while i < n:
        two = source[i : i + 2]
        if two == "//":
            while i < n and source[i] != "\n":
                out[i] = " "
                i += 1
        elif two == "/*":
            end = source.find("*/", i + 2)
            end = n if end < 0 else end + 2
            for j in range(i, end):
                if source[j] != "\n":
                    out[j] = " "
            i = end
        elif source[i] == "'":
            j = i + 1
            while j < n and source[j] != "'" and source[j] != "\n":
                j += 2 if source[j] == "\\" else 1
            for k in range(i + 1, min(j, n)):
                out[k] = " "
            i = j + 1
        else:
            i += 1
    return "".join(out)


def line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def column_of(text: str, index: int) -> int:
    return index - (text.rfind("\n", 0, index) + 1) + 1


def block_end(clean: str, open_brace: int) -> int | None:
    """Index of the ``}`` that closes the ``{`` at ``open_brace``, or None when it never closes."""
    depth = 0
    for i in range(open_brace, len(clean)):
        if clean[i] == "{":
            depth += 1
        elif clean[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def _paren_end(clean: str, open_paren: int) -> int:
    depth = 0
    for i in range(open_paren, len(clean)):
        if clean[i] == "(":
            depth += 1
        elif clean[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return len(clean)


@dataclass(frozen=True)
class Problem:
    """A component failure as the Metadata API reports it (DeployMessage)."""

    problem: str
    line: int | None = None
    column: int | None = None


@dataclass
class ApexUnit:
    kind: Kind
    name: str
    path: Path
    meta_path: Path
    source: str
    clean: str
    sobject: str | None = None
    events: tuple[str, ...] = ()
    is_test: bool = False
    loops: list[tuple[int, int]] = field(default_factory=list)

    @property
    def qualifier(self) -> str:
        return "Trigger" if self.kind == "ApexTrigger" else "Class"

    def executable_lines(self) -> list[int]:
        lines = []
        for number, text in enumerate(self.clean.splitlines(), start=1):
            stripped = text.strip()
            if stripped and stripped not in {"{", "}", "};", "})", "]);", "];"}:
                lines.append(number)
        return lines

    def where(self, index: int) -> str:
        line = line_of(self.clean, index)
        if self.kind == "ApexTrigger":
            return f"Trigger.{self.name}: line {line}, column 1"
        method = enclosing_method(self.clean, index)
        name = f"{self.name}.{method}" if method else self.name
        return f"Class.{name}: line {line}, column 1"

    def in_loop(self, index: int) -> bool:
        return any(start <= index < end for start, end in self.loops)

    def limit_defect(self) -> tuple[str, int] | None:
        """('SOQL' | 'DML', index) of the first query or DML statement inside a loop."""
        for kind, pattern in (("SOQL", _SOQL), ("DML", _DML)):
            for match in pattern.finditer(self.clean):
                if self.in_loop(match.start()):
                    return kind, match.start()
        return None

    def null_derefs(self) -> list[tuple[str, str, int]]:
        """(sObject type, field, index) of string methods called on a field never null-checked."""
        types = {var: typ for typ, var in _FOR_EACH.findall(self.clean)}
        found = []
        for match in _NULL_DEREF.finditer(self.clean):
            var, fieldname = match.group(1), match.group(2)
            typ = types.get(var)
            if typ is None:
                continue
            guard = re.compile(
                rf"\b{var}\.{fieldname}\s*!=\s*null|String\.is(?:Not)?(?:Blank|Empty)\(\s*{var}\.{fieldname}\s*\)",
                re.IGNORECASE,
            )
            if not guard.search(self.clean):
                found.append((typ, fieldname, match.start()))
        return found


def enclosing_method(clean: str, index: int) -> str | None:
    best: tuple[int, str] | None = None
    for match in _METHOD_START.finditer(clean):
        name = match.group(1)
        if name.lower() in _NOT_METHODS or match.start() > index:
            continue
        end = block_end(clean, match.end() - 1)
        if end is not None and match.end() - 1 <= index <= end:
            best = (match.start(), name)
    return best[1] if best else None


def _loops(clean: str) -> list[tuple[int, int]]:
    ranges = []
    for match in _FOR_HEADER.finditer(clean):
        header_end = _paren_end(clean, match.end() - 1)
        body = header_end + 1
        while body < len(clean) and clean[body].isspace():
            body += 1
        if body < len(clean) and clean[body] == "{":
            end = block_end(clean, body)
            ranges.append((body, len(clean) if end is None else end))
        else:
            semicolon = clean.find(";", body)
            ranges.append((body, len(clean) if semicolon < 0 else semicolon))
    return ranges


def read_unit(path: Path) -> ApexUnit:
    kind: Kind = "ApexTrigger" if path.suffix == ".trigger" else "ApexClass"
    source = path.read_text(encoding="utf-8")
    clean = blank_comments_and_strings(source)
    unit = ApexUnit(
        kind=kind,
        name=path.stem,
        path=path,
        meta_path=path.with_name(path.name + "-meta.xml"),
        source=source,
        clean=clean,
        loops=_loops(clean),
    )
    if kind == "ApexTrigger":
        match = _TRIGGER.search(clean)
        if match:
            unit.sobject = match.group(2)
            unit.events = tuple(" ".join(e.split()).lower() for e in match.group(3).split(","))
    else:
        first_class = _CLASS.search(clean)
        head = clean[: first_class.start()] if first_class else clean
        unit.is_test = "@istest" in head.lower()
    return unit


def compile_problems(unit: ApexUnit) -> list[Problem]:
    """What the platform's compiler would refuse: unbalanced braces, a misnamed class."""
    problems: list[Problem] = []
    depth = 0
    for i, char in enumerate(unit.clean):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                line, column = line_of(unit.clean, i), column_of(unit.clean, i)
                problems.append(Problem("Unexpected token '}'.", line, column))
                depth = 0
    if depth > 0:
        last = len(unit.clean.rstrip())
        problems.append(
            Problem(
                "Missing '}' at '<EOF>'", line_of(unit.clean, last), column_of(unit.clean, last)
            )
        )
    declared = (
        _TRIGGER.search(unit.clean) if unit.kind == "ApexTrigger" else _CLASS.search(unit.clean)
    )
    if declared is None:
        problems.append(Problem(f"Unexpected token '{unit.name}'.", 1, 1))
    elif declared.group(1).lower() != unit.name.lower():
        index = declared.start(1)
        word = "trigger" if unit.kind == "ApexTrigger" else "class"
        problems.append(
            Problem(
                f"Invalid {word} name: {declared.group(1)}. The name must match the file name, "
                f"{unit.name}.",
                line_of(unit.clean, index),
                column_of(unit.clean, index),
            )
        )
    return problems


def metadata_problems(unit: ApexUnit) -> list[Problem]:
    """What the Metadata API refuses in ``X.cls-meta.xml``: no file, bad XML, no apiVersion."""
    if not unit.meta_path.is_file():
        return [Problem(f"{unit.kind} {unit.name} has no {unit.meta_path.name}")]
    try:
        root = ET.fromstring(unit.meta_path.read_text(encoding="utf-8"))  # noqa: S314
    except ET.ParseError as error:
        line, column = error.position
        return [Problem(f"Error parsing file: {error.msg}", line, column + 1)]
    tag = root.tag.split("}")[-1]
    if tag != unit.kind:
        return [Problem(f"Expected root element {unit.kind} but found {tag}", 1, 1)]
    version = root.find("{*}apiVersion")
    if version is None or not (version.text or "").strip():
        return [Problem("Required field is missing: apiVersion", 1, 1)]
    return []


@dataclass
class MethodOutcome:
    test_class: ApexUnit
    method: str
    outcome: Literal["Pass", "Fail"]
    message: str
    stack_trace: str
    exercised: set[str]
    run_time_ms: int


def _assignments(args: str) -> dict[str, str]:
    """``Name = 'x', Industry = a ? b : null`` as {field: expression}, split at top-level commas."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in args:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    found = {}
    for part in parts:
        name, equals, value = part.partition("=")
        if equals and name.strip():
            found[name.strip().lower()] = value
    return found


def _method_body(test: ApexUnit, method: str) -> tuple[int, str]:
    for match in _TEST_METHOD.finditer(test.clean):
        if (match.group(1) or match.group(2)) == method:
            start = test.clean.find("{", match.end())
            end = block_end(test.clean, start)
            return start, test.clean[start : len(test.clean) if end is None else end + 1]
    return 0, ""


def methods_of_test(test: ApexUnit) -> list[str]:
    return [m.group(1) or m.group(2) for m in _TEST_METHOD.finditer(test.clean)]


@dataclass
class Project:
    root: Path
    units: dict[str, ApexUnit]

    @property
    def tests(self) -> list[ApexUnit]:
        return sorted((u for u in self.units.values() if u.is_test), key=lambda u: u.name)

    @property
    def code(self) -> list[ApexUnit]:
        return sorted((u for u in self.units.values() if not u.is_test), key=lambda u: u.name)

    def references(self, text: str) -> set[str]:
        return {
            u.name
            for u in self.code
            if u.kind == "ApexClass" and re.search(rf"\b{u.name}\s*[.(]|\bnew\s+{u.name}\b", text)
        }

    def triggers_fired(self, body: str) -> list[ApexUnit]:
        fired = []
        for unit in self.code:
            if unit.kind != "ApexTrigger" or unit.sobject is None:
                continue
            creates = re.search(rf"\bnew\s+{unit.sobject}\s*\(", body)
            operations = {e.split()[-1] for e in unit.events}
            does_dml = any(re.search(rf"\b{op}\b", body, re.IGNORECASE) for op in operations)
            if creates and does_dml:
                fired.append(unit)
        return fired

    def exercised(self, body: str) -> list[ApexUnit]:
        """The code a test method runs: triggers its DML fires, classes it calls, transitively."""
        seen: dict[str, ApexUnit] = {u.name: u for u in self.triggers_fired(body)}
        for name in self.references(body):
            seen[name] = self.units[name]
        queue = list(seen.values())
        while queue:
            unit = queue.pop()
            for name in self.references(unit.clean) - set(seen):
                seen[name] = self.units[name]
                queue.append(self.units[name])
        return [seen[name] for name in sorted(seen)]

    def run_test(self, test: ApexUnit, method: str) -> MethodOutcome:
        start, body = _method_body(test, method)
        units = self.exercised(body)
        exercised = {u.name for u in units}
        failure = self._failure(test, method, start, body, units)
        message, stack = failure if failure else ("", "")
        return MethodOutcome(
            test,
            method,
            "Fail" if failure else "Pass",
            message,
            stack,
            exercised,
            20 + len(body) % 50,
        )

    def _failure(
        self, test: ApexUnit, method: str, start: int, body: str, units: list[ApexUnit]
    ) -> tuple[str, str] | None:
        here = f"Class.{test.name}.{method}: line {{}}, column 1"
        records = max(
            [int(n) + (1 if op == "<=" else 0) for op, n in _BULK_LOOP.findall(body)] or [1]
        )
        for unit in units:
            for sobject, fieldname, index in unit.null_derefs():
                for created in re.finditer(rf"\bnew\s+{sobject}\s*\(", body):
                    args = body[created.end() : _paren_end(body, created.end() - 1)]
                    value = _assignments(args).get(fieldname.lower())
                    if value is None or re.search(r"\bnull\b", value):
                        cause = "System.NullPointerException: Attempt to de-reference a null object"
                        return self._raised(test, start, body, unit, index, cause, here)
            limit = unit.limit_defect()
            if limit is None:
                continue
            kind, index = limit
            if kind == "SOQL" and records > SOQL_LIMIT:
                cause = f"System.LimitException: Too many SOQL queries: {SOQL_LIMIT + 1}"
                return self._raised(test, start, body, unit, index, cause, here)
            if kind == "DML" and records > DML_LIMIT:
                cause = f"System.LimitException: Too many DML statements: {DML_LIMIT + 1}"
                return self._raised(test, start, body, unit, index, cause, here)
        asserted = _ASSERT_FALSE.search(body)
        if asserted:
            line = line_of(test.clean, start + asserted.start())
            return "System.AssertException: Assertion Failed", here.format(line)
        return None

    @staticmethod
    def _raised(
        test: ApexUnit, start: int, body: str, unit: ApexUnit, index: int, cause: str, here: str
    ) -> tuple[str, str]:
        if unit.kind != "ApexTrigger":
            call = re.search(rf"\b{unit.name}\s*[.(]", body)
            line = line_of(test.clean, start + (call.start() if call else 0))
            return cause, f"{unit.where(index)}\n{here.format(line)}"
        dml = re.search(r"\b(insert|update|delete|upsert)\b", body, re.IGNORECASE)
        operation = (dml.group(1) if dml else "insert").capitalize()
        line = line_of(test.clean, start + (dml.start() if dml else 0))
        phase = next((e for e in unit.events if e.endswith(operation.lower())), "after insert")
        event = "".join(word.capitalize() for word in phase.split())
        # A trigger's exception reaches the test as the DML statement's DmlException.
        message = (
            f"System.DmlException: {operation} failed. First exception on row 0; first error: "
            f"CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY, {unit.name}: execution of {event}\n\n"
            f"caused by: {cause}\n\n{unit.where(index)}: []"
        )
        return message, here.format(line)


def package_directories(root: Path) -> list[Path]:
    import json

    project = json.loads((root / "sfdx-project.json").read_text(encoding="utf-8"))
    return [root / entry["path"] for entry in project.get("packageDirectories", [])]


def load_project(root: Path, source_dirs: list[Path] | None = None) -> Project:
    units: dict[str, ApexUnit] = {}
    for directory in source_dirs or package_directories(root):
        for path in sorted([*directory.rglob("*.cls"), *directory.rglob("*.trigger")]):
            unit = read_unit(path)
            units[unit.name] = unit
    return Project(root, units)
