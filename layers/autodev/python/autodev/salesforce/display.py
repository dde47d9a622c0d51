"""The tool steps' results as a Salesforce developer reads them (Slack mrkdwn, plain enough
for a terminal): Code Analyzer's counts by severity with the top findings (rule, file:line),
the Apex tests' pass rate and coverage with the failures, a deploy's component errors.

Only the fields :mod:`autodev.salesforce.steps` writes are read, from a workflow's step
results (``output.steps``), wherever a tool step's result sits in them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from autodev.salesforce.steps import TOOLS

# Findings, failures and component errors shown per step (the result keeps more).
SHOWN = 5


def tool_results(steps: Any) -> Iterator[Mapping[str, Any]]:
    """Every tool step's result in ``steps`` (nested under a Parallel's or a Map's key too)."""
    if isinstance(steps, Mapping):
        # model_provider is the worker's own field (an agent's answer cannot set it): a model
        # writing {"tool": ...} in its answer is not shown as a tool's result.
        if (
            steps.get("tool") in TOOLS
            and steps.get("model_provider") == "tool"
            and isinstance(steps.get("passed"), bool)
        ):
            yield steps
            return
        for value in steps.values():
            yield from tool_results(value)
    elif isinstance(steps, list):
        for value in steps:
            yield from tool_results(value)


def _percent(value: Any) -> str:
    return f"{float(value) * 100:.0f}%" if isinstance(value, int | float) else "n/a"


def _flat(text: Any, limit: int = 200) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _analyzer(result: Mapping[str, Any]) -> list[str]:
    counts = result.get("counts") or {}
    by_severity = " · ".join(f"{name} {count}" for name, count in counts.items())
    head = f"*Code Analyzer*: {result.get('total', 0)} violation(s) ({by_severity})"
    if result.get("threshold"):
        head += (
            f"; {result.get('at_or_above_threshold', 0)} at or above {result['threshold']} "
            "(the threshold)"
        )
    lines = [head]
    for finding in (result.get("findings") or [])[:SHOWN]:
        lines.append(
            f"• sev{finding.get('severity')} {finding.get('rule')} "
            f"`{finding.get('file')}:{finding.get('line')}` {_flat(finding.get('message'), 120)}"
        )
    return lines


def _tests(result: Mapping[str, Any]) -> list[str]:
    coverage = _percent(result.get("test_run_coverage"))
    lines = [
        f"*Apex tests*: {result.get('passing', 0)} of {result.get('tests_ran', 0)} passed "
        f"({_percent(result.get('pass_rate'))}), coverage {coverage}"
        f" (org-wide {_percent(result.get('org_wide_coverage'))})"
    ]
    for failure in (result.get("failures") or [])[:SHOWN]:
        lines.append(f"• {failure.get('test')}: {_flat(failure.get('message'))}")
    return lines


def _deploy(result: Mapping[str, Any], what: str) -> list[str]:
    verdict = "succeeded" if result.get("passed") else "failed"
    if result.get("refused"):
        verdict = f"refused: {_flat(result.get('refusal'))}"
    job = result.get("job_id") or result.get("validation_job_id") or ""
    lines = [f"*{what}* `{job}` {verdict}"]
    for error in (result.get("component_errors") or [])[:SHOWN]:
        lines.append(
            f"• {error.get('problem_type', 'Error')} `{error.get('where')}` "
            f"{error.get('component')}: {_flat(error.get('problem'))}"
        )
    for failure in (result.get("test_failures") or [])[:SHOWN]:
        lines.append(f"• {failure.get('test')}: {_flat(failure.get('message'))}")
    return lines


def tool_report(steps: Any) -> str:
    """The tool steps' results in ``steps``, one block each; empty when there are none."""
    blocks: list[str] = []
    for result in tool_results(steps):
        tool = result["tool"]
        if tool == "code_analyzer":
            lines = _analyzer(result)
        elif tool == "apex_tests":
            lines = _tests(result)
        elif tool == "deploy_validate":
            lines = _deploy(result, "Deploy validation")
        else:
            lines = _deploy(result, "Quick deploy")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
