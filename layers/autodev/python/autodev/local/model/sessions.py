"""The scripted sessions autodev's workflow steps play on the scripted provider.

A session is chosen from the step's name (and task type), and built from what is really in
the workspace: a review step reads the Apex files and reports what ``apex_checks`` finds in
them; a fix step reads its target and edits it (the edit lands on disk through Claude Code's
own Edit/Write tools); a verify step reads the file again and says whether the defects are
gone; a deployment's validation and smoke tests check the project's metadata
(``metadata_checks``), as no org is connected. Every final answer starts with
``[scripted model]`` so nobody mistakes it for a model's. Only tools the step allows are used.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from pathlib import Path

from autodev.local.model.apex_checks import (
    Finding,
    apex_files,
    check_source,
    check_tree,
    fixed_source,
)
from autodev.local.model.metadata_checks import PROJECT_FILE, check_project
from autodev.local.model.script import SCRIPTED_NOTICE, Script, ToolCall, Turn

# Step kinds, matched in this order against the step name and task type.
_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # A deployment's validation and smoke tests check the metadata, not the code review's
    # findings: those are the code's business, not a reason to refuse a deployment.
    ("deploy_check", ("validate", "smoke")),
    ("verify", ("verify", "test", "check")),
    ("fix", ("fix", "implement", "improve", "apply", "patch")),
    ("reproduce", ("reproduce",)),
    ("review", ("security", "performance", "quality", "review", "analy", "audit")),
    ("prioritise", ("prioriti",)),
    ("report", ("combine", "report", "summar", "merge")),
    ("deploy", ("deploy", "release")),
    ("diagnose", ("root", "cause", "diagnos", "identify", "investigat")),
)
_FOCUS = ("security", "performance", "quality")
_MAX_READS = 8


def step_kind(step: str, task_type: str) -> str:
    """The kind of session for a step: by its name first, by its task type if that says nothing."""
    for name in (step.lower(), task_type.lower()):
        for kind, words in _KINDS:
            if any(word in name for word in words):
                return kind
    return "diagnose"


def session_for(
    *,
    step: str,
    task_type: str,
    prompt: str,
    workspace: Path,
    allowed_tools: Sequence[str],
) -> Script:
    """The scripted session for one step, built against the workspace as it is now."""
    kind = step_kind(step, task_type)
    tools = set(allowed_tools)
    builder = {
        "review": _review,
        "fix": _fix,
        "verify": _verify,
        "reproduce": _reproduce,
        "diagnose": _diagnose,
        "report": _report,
        "prioritise": _prioritise,
        "deploy": _deploy,
        "deploy_check": _deploy_check,
    }[kind]
    script = builder(step or task_type, prompt, workspace, tools)
    return Script(f"{kind}:{step or task_type}", script.turns)


# --- helpers ---


def _read_calls(workspace: Path, files: Sequence[str], tools: set[str]) -> tuple[ToolCall, ...]:
    if "Read" not in tools:
        return ()
    return tuple(
        ToolCall("Read", {"file_path": str(workspace / relative)})
        for relative in files[:_MAX_READS]
    )


def _findings_text(findings: Sequence[Finding]) -> str:
    if not findings:
        return "No findings."
    lines = [f"- **{f.severity}** `{f.file}:{f.line}`: {f.message} ({f.rule})" for f in findings]
    return "\n".join(lines)


def _json_block(payload: object) -> str:
    return "```json\n" + json.dumps(payload, indent=1) + "\n```"


def _named_files(prompt: str, workspace: Path) -> list[str]:
    """Apex files the prompt names by file stem (``AccountTrigger``), tests excluded."""
    words = {word.lower() for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]+", prompt)}
    return [
        path.relative_to(workspace).as_posix()
        for path in apex_files(workspace)
        if path.stem.lower() in words and not path.stem.lower().endswith("test")
    ]


def _target_files(prompt: str, workspace: Path, findings: Sequence[Finding]) -> list[str]:
    """Files the prompt names (by file stem, e.g. ``AccountTrigger``), else the defective ones."""
    named = _named_files(prompt, workspace)
    if named:
        return named
    ordered: list[str] = []
    for finding in findings:
        if finding.severity == "high" and finding.file not in ordered:
            ordered.append(finding.file)
    return ordered[:1] or [f.file for f in findings][:1]


def _two_turns(opening: str, calls: tuple[ToolCall, ...], closing: str) -> Script:
    if calls:
        return Script("", (Turn(opening, calls), Turn(closing)))
    return Script("", (Turn(f"{opening}\n\n{closing}"),))


# --- the step kinds ---


def _review(step: str, prompt: str, workspace: Path, tools: set[str]) -> Script:
    # The step's name says what to look for (``security``); else the start of the prompt.
    focus = [word for word in _FOCUS if word in step.lower()] or [
        word for word in _FOCUS if word in prompt.lower()[:80]
    ]
    named = _named_files(prompt, workspace)
    files = named or [path.relative_to(workspace).as_posix() for path in apex_files(workspace)]
    findings = [
        f for f in check_tree(workspace) if (not focus or f.category in focus) and f.file in files
    ]
    label = " and ".join(focus) if focus else "code"
    opening = f"{SCRIPTED_NOTICE} Reviewing {len(files)} Apex files for {label} issues."
    closing = (
        f"{SCRIPTED_NOTICE} {label.capitalize()} review: {len(findings)} finding(s) in "
        f"{len(files)} Apex files.\n\n{_findings_text(findings)}\n\n"
        + _json_block({"focus": focus or ["all"], "findings": [f.to_json() for f in findings]})
    )
    return _two_turns(opening, _read_calls(workspace, files, tools), closing)


def _reproduce(step: str, prompt: str, workspace: Path, tools: set[str]) -> Script:
    findings = check_tree(workspace)
    targets = _target_files(prompt, workspace, findings)
    tests = [
        path.relative_to(workspace).as_posix()
        for path in apex_files(workspace)
        for target in targets
        if path.stem.lower() == Path(target).stem.lower() + "test"
    ]
    relevant = [f for f in findings if f.file in targets]
    opening = f"{SCRIPTED_NOTICE} Reading {', '.join(targets) or 'the project'} and its tests."
    closing = (
        f"{SCRIPTED_NOTICE} Reproduction: the defect is in {', '.join(targets) or 'no file'}. "
        "A bulk insert of 200 records runs the code below once per record:\n\n"
        f"{_findings_text(relevant)}\n\n"
        + _json_block({"reproduced": bool(relevant), "files": targets, "tests": tests})
    )
    return _two_turns(opening, _read_calls(workspace, targets + tests, tools), closing)


def _diagnose(step: str, prompt: str, workspace: Path, tools: set[str]) -> Script:
    findings = check_tree(workspace)
    targets = _target_files(prompt, workspace, findings)
    relevant = [f for f in findings if f.file in targets] or findings
    opening = (
        f"{SCRIPTED_NOTICE} Looking for the root cause in {', '.join(targets) or 'the project'}."
    )
    closing = f"{SCRIPTED_NOTICE} Root cause:\n\n{_findings_text(relevant)}\n\n" + _json_block(
        {"root_cause": [f.to_json() for f in relevant]}
    )
    return _two_turns(opening, _read_calls(workspace, targets, tools), closing)


def _edit_call(workspace: Path, relative: str, old: str, new: str, tools: set[str]) -> ToolCall:
    """An Edit of the smallest changed block (unique in the file), or a Write of the file."""
    path = str(workspace / relative)
    if "Edit" in tools:
        old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
        matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
        changed = [op for op in matcher.get_opcodes() if op[0] != "equal"]
        if changed:
            a0, b0 = changed[0][1], changed[0][3]
            a1, b1 = changed[-1][2], changed[-1][4]
            old_block = "".join(old_lines[a0:a1])
            new_block = "".join(new_lines[b0:b1])
            if old_block and old.count(old_block) == 1:
                return ToolCall(
                    "Edit", {"file_path": path, "old_string": old_block, "new_string": new_block}
                )
        return ToolCall("Edit", {"file_path": path, "old_string": old, "new_string": new})
    return ToolCall("Write", {"file_path": path, "content": new})


def _fix(step: str, prompt: str, workspace: Path, tools: set[str]) -> Script:
    findings = check_tree(workspace)
    named = _target_files(prompt, workspace, findings)
    targets = named if named else sorted({f.file for f in findings})
    edits: list[tuple[str, ToolCall, list[str]]] = []
    for relative in targets:
        text = (workspace / relative).read_text()
        new = fixed_source(relative, text)
        if new is not None and tools & {"Edit", "Write"}:
            rules = sorted({f.rule for f in check_source(relative, text)})
            edits.append((relative, _edit_call(workspace, relative, text, new, tools), rules))
    reads = _read_calls(workspace, targets, tools)
    if not edits:
        reason = (
            "the step may not edit files"
            if not tools & {"Edit", "Write"}
            else "no defect it knows how to fix"
        )
        return _two_turns(
            f"{SCRIPTED_NOTICE} Reading {', '.join(targets) or 'the project'}.",
            reads,
            f"{SCRIPTED_NOTICE} No change made: {reason}.\n\n"
            + _json_block({"fixed": False, "files_changed": []}),
        )
    summary = "\n".join(f"- `{relative}`: fixed {', '.join(rules)}" for relative, _, rules in edits)
    turns = [
        Turn(f"{SCRIPTED_NOTICE} Reading {', '.join(targets)} before changing it.", reads)
        if reads
        else None,
        Turn(f"{SCRIPTED_NOTICE} Applying the fix.", tuple(call for _, call, _ in edits)),
        Turn(
            f"{SCRIPTED_NOTICE} Fixed the defect(s):\n\n{summary}\n\n"
            + _json_block(
                {
                    "fixed": True,
                    "files_changed": [relative for relative, _, _ in edits],
                    "rules": {relative: rules for relative, _, rules in edits},
                }
            )
        ),
    ]
    return Script("", tuple(turn for turn in turns if turn is not None))


def _verify(step: str, prompt: str, workspace: Path, tools: set[str]) -> Script:
    findings = check_tree(workspace)
    targets = _target_files(prompt, workspace, findings)
    remaining = [f for f in findings if f.file in targets]
    verdict = "passed" if not remaining else "failed"
    closing = (
        f"{SCRIPTED_NOTICE} Verification {verdict} for {', '.join(targets) or 'the project'}: "
        + (
            "no SOQL or DML inside loops and no null dereference remain."
            if not remaining
            else f"{len(remaining)} defect(s) remain:\n\n{_findings_text(remaining)}"
        )
        + "\n\n"
        + _json_block(
            {
                "passed": not remaining,
                "details": "no known defect remains"
                if not remaining
                else "; ".join(f"{f.file}:{f.line} {f.rule}" for f in remaining),
                "remaining": [f.to_json() for f in remaining],
            }
        )
    )
    calls = _read_calls(workspace, targets, tools)
    if "Bash" in tools and targets:
        calls += (
            ToolCall(
                "Bash",
                {
                    "command": "grep -n -i 'select' " + " ".join(targets),
                    "description": "List the queries in the changed files",
                },
            ),
        )
    return _two_turns(f"{SCRIPTED_NOTICE} Checking the fix.", calls, closing)


def _report(step: str, prompt: str, workspace: Path, tools: set[str]) -> Script:
    named = _named_files(prompt, workspace)
    findings = [f for f in check_tree(workspace) if not named or f.file in named]
    by_category: dict[str, list[Finding]] = {}
    for finding in findings:
        by_category.setdefault(finding.category, []).append(finding)
    sections = "\n\n".join(
        f"### {category.capitalize()}\n{_findings_text(items)}"
        for category, items in sorted(by_category.items())
    )
    counts = {
        severity: sum(f.severity == severity for f in findings)
        for severity in ("high", "medium", "low")
    }
    closing = (
        f"{SCRIPTED_NOTICE} Report: {len(findings)} finding(s) "
        f"({counts['high']} high, {counts['medium']} medium, {counts['low']} low).\n\n"
        f"{sections or 'No findings.'}\n\n"
        + _json_block({"summary": counts, "findings": [f.to_json() for f in findings]})
    )
    return Script("", (Turn(closing),))


def _deploy(step: str, prompt: str, workspace: Path, tools: set[str]) -> Script:
    files = [path.relative_to(workspace).as_posix() for path in apex_files(workspace)]
    project = "sfdx-project.json" if (workspace / "sfdx-project.json").exists() else None
    closing = (
        f"{SCRIPTED_NOTICE} Deployment step '{step}': {len(files)} Apex components checked. "
        "No org is connected on the scripted provider, so nothing was deployed.\n\n"
        + _json_block({"components": files, "deployed": False})
    )
    return _two_turns(
        f"{SCRIPTED_NOTICE} Reading the project definition.",
        _read_calls(workspace, [project] if project else [], tools),
        closing,
    )


def _deploy_check(step: str, prompt: str, workspace: Path, tools: set[str]) -> Script:
    """A validation (or smoke test) of the project's metadata; no org is connected."""
    report = check_project(workspace)
    smoke = "smoke" in step.lower()
    what = "Smoke tests" if smoke else "Validation"
    verdict = "passed" if report.passed else "failed"
    scope = (
        "No org is connected on the scripted provider, so nothing ran in an org: "
        + (
            f"the deployed source was checked instead, and its {len(report.test_classes)} "
            "test class(es) are the ones the smoke tests would run"
            if smoke
            else "the project's metadata was checked as a check-only deployment would"
        )
        + "."
    )
    problems = "\n".join(f"- {problem}" for problem in report.problems) or "No problems found."
    # 'details' becomes the workflow's failure cause, read without the rest: it says scripted.
    details = f"{SCRIPTED_NOTICE} " + (
        f"{len(report.components)} Apex component(s) and their metadata are well-formed, "
        f"with {len(report.test_classes)} test class(es)"
        if report.passed
        else "; ".join(report.problems)
    )
    closing = (
        f"{SCRIPTED_NOTICE} {what} {verdict}: {len(report.components)} Apex component(s) in "
        f"{', '.join(report.package_directories) or 'no package directory'}, "
        f"{len(report.problems)} problem(s). {scope}\n\n{problems}\n\n"
        + _json_block(
            {
                "passed": report.passed,
                "details": details,
                "problems": report.problems,
                "components": report.components,
                "test_classes": report.test_classes,
            }
        )
    )
    metadata = [f"{component}-meta.xml" for component in report.components]
    reads = [PROJECT_FILE] if (workspace / PROJECT_FILE).is_file() else []
    reads += [path for path in metadata if (workspace / path).is_file()]
    return _two_turns(
        f"{SCRIPTED_NOTICE} Checking the project definition and the components' metadata.",
        _read_calls(workspace, reads, tools),
        closing,
    )


def _prioritise(step: str, prompt: str, workspace: Path, tools: set[str]) -> Script:
    findings = check_tree(workspace)
    rank = {"high": 0, "medium": 1, "low": 2}
    ordered = sorted(findings, key=lambda f: (rank.get(f.severity, 3), f.file, f.line))
    items = [
        {
            "file": f.file,
            "line": f.line,
            "severity": f.severity,
            "rule": f.rule,
            "fix": f"{Path(f.file).stem}: {f.message}",
        }
        for f in ordered
        if f.severity == "high"
    ]
    closing = (
        f"{SCRIPTED_NOTICE} {len(items)} high-priority item(s) out of {len(findings)} finding(s), "
        "most severe first.\n\n" + _json_block({"items": items})
    )
    return Script("", (Turn(closing),))
