"""Small, honest checks of Apex source that the scripted sessions report and fix.

The scripted model does not think; it reads what is really in the workspace with these checks
so that what it says (and edits) is true of the files in front of it: SOQL queries and DML
statements inside loops, classes without a sharing declaration, and ``field.equals(...)`` on a
field that may be null. The fixes are the textbook ones for those defects.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

APEX_SUFFIXES = (".cls", ".trigger")

_LOOP = re.compile(r"\b(for|while)\s*\(")
_SOQL = re.compile(r"\[\s*SELECT\b", re.IGNORECASE)
_DML = re.compile(r"^\s*(insert|update|delete|upsert|undelete)\s+\w", re.IGNORECASE | re.MULTILINE)
_CLASS = re.compile(
    r"^\s*(public|global|private)?\s*((?:with|without|inherited)\s+sharing\s+)?"
    r"(?:virtual\s+|abstract\s+)*class\s+(\w+)",
    re.IGNORECASE | re.MULTILINE,
)
_FIELD_EQUALS = re.compile(r"\b(\w+)\.(\w+)\.equals\(\s*('[^']*')\s*\)")


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    category: str  # security | performance | quality
    severity: str  # high | medium | low
    rule: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def apex_files(root: Path) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and path.suffix in APEX_SUFFIXES and ".git" not in path.parts
    )


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _closing(text: str, position: int, opening: str, closing: str) -> int:
    """Offset of the bracket that closes the one at ``position`` (``len(text)`` if none)."""
    depth = 0
    while position < len(text):
        if text[position] == opening:
            depth += 1
        elif text[position] == closing:
            depth -= 1
            if depth == 0:
                break
        position += 1
    return position


def _loop_bodies(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each loop's braced body; the loop header is not included."""
    bodies: list[tuple[int, int]] = []
    for match in _LOOP.finditer(text):
        header_end = _closing(text, match.end() - 1, "(", ")")
        opening = text.find("{", header_end)
        if opening < 0 or text[header_end + 1 : opening].strip():
            continue
        bodies.append((opening, _closing(text, opening, "{", "}")))
    return bodies


# Statements that cost one governor-limited call per iteration inside a loop: the rule, the
# pattern, the group that starts the statement, and the message ({statement}: that group).
_IN_LOOP = (
    (
        "soql-in-loop",
        _SOQL,
        0,
        "SOQL query inside a loop: one query per record hits the limit of 100 queries on bulk "
        "operations",
    ),
    (
        "dml-in-loop",
        _DML,
        1,
        "DML statement ({statement}) inside a loop: collect the records and write them once",
    ),
)


def check_source(relative: str, text: str) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple[str, int]] = set()
    for start, end in _loop_bodies(text):
        body = text[start:end]
        for rule, pattern, group, message in _IN_LOOP:
            for match in pattern.finditer(body):
                line = _line_of(text, start + match.start(group))
                if (rule, line) not in seen:  # nested loops see the same statement twice
                    seen.add((rule, line))
                    findings.append(
                        Finding(
                            relative,
                            line,
                            "performance",
                            "high",
                            rule,
                            message.format(statement=match.group(group).lower()),
                        )
                    )
    if relative.endswith(".cls") and "@istest" not in text.lower():
        for match in _CLASS.finditer(text):
            if match.group(1) and not match.group(2):
                findings.append(
                    Finding(
                        relative,
                        _line_of(text, match.start(3)),
                        "security",
                        "medium",
                        "missing-sharing",
                        f"class {match.group(3)} declares no sharing mode: it runs in its "
                        "caller's mode by accident; declare 'with sharing'",
                    )
                )
                break
    for match in _FIELD_EQUALS.finditer(text):
        findings.append(
            Finding(
                relative,
                _line_of(text, match.start()),
                "quality",
                "high",
                "null-dereference",
                f"{match.group(1)}.{match.group(2)}.equals(...) throws a NullPointerException "
                f"when {match.group(2)} is empty; compare with {match.group(3)}.equals(...)",
            )
        )
    return sorted(findings, key=lambda finding: (finding.file, finding.line))


def check_tree(root: Path) -> list[Finding]:
    findings: list[Finding] = []
    for path in apex_files(root):
        findings.extend(check_source(path.relative_to(root).as_posix(), path.read_text()))
    return findings


# --- fixes: each returns the new text, or None when the defect is not there ---

_BULK_SAFE_TRIGGER = """/**
 * Keeps a primary Contact for every technology Account and tags its rating.
 */
trigger AccountTrigger on Account (after insert) {
    // One query for the whole batch: which of the new accounts already have a contact.
    Set<Id> withContact = new Set<Id>();
    for (Contact existing : [
        SELECT AccountId FROM Contact WHERE AccountId IN :Trigger.newMap.keySet()
    ]) {
        withContact.add(existing.AccountId);
    }
    List<Contact> primaries = new List<Contact>();
    for (Account acc : Trigger.new) {
        // 'Technology'.equals(...) is null-safe; acc.Industry may be empty.
        if (!withContact.contains(acc.Id) && 'Technology'.equals(acc.Industry)) {
            primaries.add(new Contact(
                LastName = acc.Name + ' Primary',
                AccountId = acc.Id
            ));
        }
    }
    // One DML statement for the whole batch.
    insert primaries;
}
"""

_AGGREGATE_COUNTS = """\
    public static Map<Id, Integer> openOpportunityCounts(List<Id> accountIds) {
        Map<Id, Integer> counts = new Map<Id, Integer>();
        for (Id accountId : accountIds) {
            counts.put(accountId, 0);
        }
        // One aggregate query for every account instead of one query per account.
        for (AggregateResult row : [
            SELECT AccountId, COUNT(Id) open FROM Opportunity
            WHERE AccountId IN :accountIds AND IsClosed = false
            GROUP BY AccountId
        ]) {
            counts.put((Id) row.get('AccountId'), (Integer) row.get('open'));
        }
        return counts;
    }
"""


def fixed_source(relative: str, text: str) -> str | None:
    """The file with its known defects fixed, or None when there is nothing this can fix."""
    rules = {finding.rule for finding in check_source(relative, text)}
    if not rules:
        return None
    new = text
    if relative.endswith("AccountTrigger.trigger") and rules & {"soql-in-loop", "dml-in-loop"}:
        new = _BULK_SAFE_TRIGGER
    elif "soql-in-loop" in rules and "openOpportunityCounts" in text:
        start = text.find("    public static Map<Id, Integer> openOpportunityCounts(")
        end = text.find("        return counts;\n    }\n", start)
        if start >= 0 and end >= 0:
            new = (
                text[:start]
                + _AGGREGATE_COUNTS
                + text[end + len("        return counts;\n    }\n") :]
            )
    if "missing-sharing" in rules:
        new = re.sub(
            r"^(\s*)(public|global)(\s+)((?:virtual\s+|abstract\s+)*class\s)",
            r"\1\2 with sharing\3\4",
            new,
            count=1,
            flags=re.MULTILINE,
        )
    if "null-dereference" in rules:
        new = _FIELD_EQUALS.sub(r"\3.equals(\1.\2)", new)
    return new if new != text else None
