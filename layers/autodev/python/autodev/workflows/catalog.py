"""The workflow templates: title, description, input schema, defaults and each step's prompt.

One JSON file per template in ``templates/`` beside this module (shipped in the Lambda layer,
unlike ``statemachines/``), named like its state machine ``statemachines/<template>.asl.json``.
A step's key is the ``step`` its ASL Task passes to ``functions/enqueue_task``.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autodev.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    # jsonschema is imported where a schema is checked: the modules that import this one for
    # its names (a worker's, most handlers') do not pay for it at start-up.
    from jsonschema.exceptions import ValidationError

TEMPLATES_DIR = Path(__file__).with_name("templates")
PRIORITIES = ("critical", "high", "normal", "low")
# Prior step results quoted into a prompt are cut to this many characters.
PREVIOUS_LIMIT = 12_000
# An invalid input value is quoted in the error up to this many characters.
QUOTE_LIMIT = 60


@dataclass(frozen=True)
class StepInfo:
    key: str
    state: str
    task_type: str
    prompt: str
    allowed_tools: tuple[str, ...]
    kind: str = "agent"  # 'agent' (a Claude Code task), 'tool' (a deterministic step) or 'approval'
    # A tool step: which tool the worker runs (autodev.salesforce.steps) and its options.
    tool: str | None = None
    tool_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    default_priority: str
    default_budget_usd: float
    # The input field that free text after the template name fills (Slack's /workflow start).
    free_text_field: str
    example_input: dict[str, Any]
    steps: tuple[StepInfo, ...]

    def step(self, key: str) -> StepInfo:
        for step in self.steps:
            if step.key == key:
                return step
        raise NotFound(f"template {self.name} has no step {key!r}")

    def with_defaults(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The input with the schema's defaults filled in where a field is absent."""
        filled = {
            name: prop["default"]
            for name, prop in self.input_schema.get("properties", {}).items()
            if "default" in prop
        }
        filled.update(given)
        return filled

    def validate_input(self, given: Any) -> dict[str, Any]:
        """The input, checked against the schema; InvalidInput says what is wrong."""
        import jsonschema
        from jsonschema.exceptions import best_match

        validator = jsonschema.Draft202012Validator(self.input_schema)
        error = best_match(validator.iter_errors(given))
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path)
            place = f" at {where}" if where else ""
            raise InvalidInput(f"input for {self.name} is not valid{place}: {_message(error)}")
        assert isinstance(given, dict)
        return dict(given)


def _message(error: ValidationError) -> str:
    """jsonschema's message, with a long offending value cut: it quotes the value whole, and
    a 100 KB description would become a 100 KB error line (or Slack reply)."""
    shown = repr(error.instance)
    if len(shown) <= QUOTE_LIMIT:
        return str(error.message)
    cut = shown[:QUOTE_LIMIT] + "…"
    if error.validator == "maxLength":
        return (
            f"{cut} is too long ({len(error.instance)} characters; at most {error.validator_value})"
        )
    return str(error.message).replace(shown, cut)


# Every template's input also takes the repository to work on and where to start in it
# (autodev.repos checks both when the workflow starts).
REPOSITORY_INPUT: dict[str, dict[str, Any]] = {
    "repo": {
        "type": "string",
        "pattern": "^[a-z0-9][a-z0-9._-]{0,62}$",
        "description": "The registered repository to work on (default: the default one)",
    },
    "ref": {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "description": "The branch, tag or commit to start from (default: its branch)",
    },
}


def _load(path: Path) -> TemplateInfo:
    raw = json.loads(path.read_text())
    properties = raw["input_schema"].setdefault("properties", {})
    for name, schema in REPOSITORY_INPUT.items():
        properties.setdefault(name, schema)
    steps = tuple(
        StepInfo(
            key=key,
            state=str(step["state"]),
            task_type=str(step["task_type"]),
            prompt=str(step["prompt"]),
            allowed_tools=tuple(step["allowed_tools"]),
            kind=str(step.get("kind", "agent")),
            tool=step.get("tool"),
            tool_options=dict(step.get("tool_options") or {}),
        )
        for key, step in raw["steps"].items()
    )
    for step in steps:
        if (step.kind == "tool") != (step.tool is not None):
            raise ValueError(f"{path.name}: step {step.key} must be kind 'tool' with a tool")
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(raw["input_schema"])
    return TemplateInfo(
        name=path.name.removesuffix(".json"),
        title=str(raw["title"]),
        description=str(raw["description"]),
        input_schema=dict(raw["input_schema"]),
        default_priority=str(raw["default_priority"]),
        default_budget_usd=float(raw["default_budget_usd"]),
        free_text_field=str(raw["free_text_field"]),
        example_input=dict(raw["example_input"]),
        steps=steps,
    )


@cache
def _template_files() -> dict[str, Path]:
    """Each template's file, by name."""
    return {path.stem: path for path in sorted(TEMPLATES_DIR.glob("*.json"))}


@cache
def _catalog() -> dict[str, TemplateInfo]:
    return {info.name: info for info in map(_load, _template_files().values())}


@cache
def starts_with_worker_step(name: str) -> bool:
    """Whether the template called ``name`` starts with a step a worker runs (an agent or a
    tool step, not an approval); False for a name that is no template.

    Read from the template's file alone, without ``get_template``'s schema checks (jsonschema,
    about 0.1 s): the Slack front door asks on its cold start path."""
    path = _template_files().get(name)
    if path is None:
        return False
    steps = json.loads(path.read_text())["steps"]
    return bool(steps) and next(iter(steps.values())).get("kind", "agent") != "approval"


def list_templates() -> list[TemplateInfo]:
    """Every template, by name."""
    return list(_catalog().values())


def get_template(name: str) -> TemplateInfo:
    """The template called ``name``; NotFound lists the known ones."""
    try:
        return _catalog()[name]
    except KeyError:
        known = ", ".join(_catalog())
        raise NotFound(f"no workflow template {name!r}; the templates are: {known}") from None


class _Fields(dict[str, str]):
    """Format fields for a prompt: a field the input lacks renders empty, not as an error."""

    def __missing__(self, key: str) -> str:
        return ""


def _as_text(value: Any, limit: int = PREVIOUS_LIMIT) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=1, default=str)
    return text if len(text) <= limit else text[:limit] + "\n[... cut]"


def render_prompt(template: TemplateInfo, step: StepInfo, context: Mapping[str, Any]) -> str:
    """The step's prompt with the workflow input, prior step results and Map item filled in."""
    fields = _Fields(
        {
            name: _as_text(value, 2_000)
            for name, value in template.with_defaults(context.get("input") or {}).items()
        }
    )
    fields["previous"] = _as_text(context.get("steps") or {})
    fields["item"] = _as_text(context.get("item") or {})
    # vformat with a mapping only: a prompt's fields are plain names chosen by us, never input.
    return string.Formatter().vformat(step.prompt, (), fields)
