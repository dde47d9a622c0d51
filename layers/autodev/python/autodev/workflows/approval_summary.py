"""What an approver decides from: a small typed summary of the approval, not the raw step JSON.

An :class:`ApprovalSummary` is built when an approval step opens (``autodev.workflows.steps``)
from the workflow's input and the results of the steps before it, stored with the approval
(``approvals.summary``) and rendered by the Slack card and the CLI. Its validation part,
:class:`ValidationSummary`, is filled from either kind of validation a deployment can have:

- the scripted metadata check (``passed``, ``details``, ``problems``, ``components``,
  ``test_classes``: what the scripted provider's validation answers), and
- a typed ``sf project deploy validate`` result, :class:`autodev.salesforce.sf_results.
  DeployOutcome` (:meth:`ValidationSummary.from_deploy_outcome`), found in a step result
  under ``deploy_outcome`` (its JSON form).

Nothing here keeps a workspace path, usage figures or the step's whole answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autodev.salesforce.sf_results import DeployOutcome

# The scripted provider marks every answer with this; the card says "scripted" in words.
_SCRIPTED_MARK = re.compile(r"^\s*\[scripted model\]\s*", re.IGNORECASE)
SHOWN_ITEMS = 5  # problems, failures and components listed by name; the rest are counted


def _words(text: Any, limit: int = 300) -> str:
    flat = " ".join(str(text or "").split())
    flat = _SCRIPTED_MARK.sub("", flat)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [_words(item, 200) for item in value if str(item or "").strip()]


class _Summary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)


class ValidationSummary(_Summary):
    """How the validation went, in words and figures."""

    passed: bool
    outcome: str  # one line a person reads: what was checked and what was found
    # 'org': validated against the target org (a check-only deploy); 'metadata': only the
    # project's files were checked (no org connected, e.g. on the scripted provider).
    checked: Literal["org", "metadata"] = "metadata"
    scripted: bool = False
    components_total: int | None = None
    problems: list[str] = Field(default_factory=list)  # component errors, coverage warnings
    tests_run: int | None = None
    test_failures: list[str] = Field(default_factory=list)
    test_classes: list[str] = Field(default_factory=list)
    job_id: str | None = None  # the org's deploy id, for `sf project deploy report`

    def figures(self) -> list[str]:
        """The counts, as short phrases: ``6 components``, ``0 problems``, ``12 tests run``."""
        found = []
        if self.components_total is not None:
            found.append(_count(self.components_total, "component"))
        found.append(_count(len(self.problems), "problem"))
        if self.tests_run is not None:
            found.append(f"{self.tests_run} tests run")
            found.append(_count(len(self.test_failures), "test failure"))
        elif self.test_classes:
            found.append(_count(len(self.test_classes), "test class", "test classes"))
        return found

    @classmethod
    def from_deploy_outcome(cls, outcome: DeployOutcome) -> ValidationSummary:
        """From a typed ``sf project deploy validate`` result."""
        problems = [
            f"{error.where()}: {error.message}" for error in outcome.component_errors
        ] + list(outcome.coverage_warnings)
        failures = [f"{test.title()}: {test.message}" for test in outcome.test_failures]
        if outcome.succeeded:
            words = (
                f"Validation against the org succeeded: {outcome.components_total} "
                f"component(s) would deploy, {outcome.tests_run} test(s) ran"
            )
        else:
            words = f"Validation against the org failed ({outcome.status})"
            if problems or failures:
                words += ": " + "; ".join((problems + failures)[:2])
        return cls(
            passed=outcome.succeeded,
            outcome=_words(words),
            checked="org",
            components_total=outcome.components_total or None,
            problems=problems,
            tests_run=outcome.tests_run,
            test_failures=failures,
            job_id=outcome.job_id,
        )

    @classmethod
    def from_step_result(cls, result: Mapping[str, Any]) -> ValidationSummary | None:
        """From a validation step's result: a typed outcome under ``deploy_outcome`` when it
        has one, else the scripted check's fields; None when it has neither."""
        typed = result.get("deploy_outcome")
        if isinstance(typed, Mapping):
            try:
                return cls.from_deploy_outcome(DeployOutcome.model_validate(dict(typed)))
            except ValidationError:
                pass  # not the typed shape after all: read the plain fields below
        passed = result.get("passed")
        if not isinstance(passed, bool):
            return None
        components = _strings(result.get("components"))
        details = result.get("details") or result.get("summary") or ""
        return cls(
            passed=passed,
            outcome=_words(details) or ("Validation passed" if passed else "Validation failed"),
            checked="metadata",
            scripted=bool(result.get("scripted")),
            components_total=len(components) if "components" in result else None,
            problems=_strings(result.get("problems")),
            test_classes=_strings(result.get("test_classes")),
        )


class ApprovalSummary(_Summary):
    """Everything the approval card shows, with no raw step output."""

    question: str
    workflow_id: str
    template: str
    execution_name: str = ""
    requested_by: str | None = None
    target_org: str | None = None
    source: str | None = None
    test_level: str | None = None
    components: list[str] = Field(default_factory=list)  # what will be deployed
    validation: ValidationSummary | None = None
    details_url: str | None = None  # where the execution can be seen (console or local page)

    def what(self) -> str:
        """One line: what will happen if approved."""
        if self.target_org:
            parts = [f"deploy `{self.source or 'the project'}` to *{self.target_org}*"]
            if self.test_level:
                parts.append(f"with test level *{self.test_level}*")
            return " ".join(parts)
        return self.question

    def shown_components(self) -> tuple[list[str], int]:
        """The components to list by name, and how many more there are."""
        return self.components[:SHOWN_ITEMS], max(0, len(self.components) - SHOWN_ITEMS)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def build_summary(
    *,
    question: str,
    workflow_id: str,
    template: str,
    workflow_input: Mapping[str, Any],
    steps: Mapping[str, Any],
    execution_name: str = "",
    requested_by: str | None = None,
    details_url: str | None = None,
    validation_step: str = "validate",
) -> ApprovalSummary:
    """The summary of an approval, from the workflow's input and its earlier steps' results."""
    result = steps.get(validation_step)
    validation = ValidationSummary.from_step_result(result) if isinstance(result, Mapping) else None
    components: Sequence[str] = []
    if isinstance(result, Mapping):
        components = _strings(result.get("components"))
    return ApprovalSummary(
        question=_words(question, 500),
        workflow_id=workflow_id,
        template=template,
        execution_name=execution_name,
        requested_by=requested_by,
        target_org=_text(workflow_input.get("target_org")),
        source=_text(workflow_input.get("source")),
        test_level=_text(workflow_input.get("test_level")),
        components=list(components),
        validation=validation,
        details_url=details_url,
    )


def _text(value: Any) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value)
