"""Packages that handlers load keep their names lazy: importing one costs only what is used."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import autodev.workflows

HEAVY = (
    "boto3",
    "botocore",
    "psycopg",
    "psycopg_pool",
    "autodev.config",
    "jsonschema",
    "slack_sdk",
    "autodev.progress.tracking",
)


def _heavy_after(statement: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    shown = f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    code = f"import json, sys\n{statement}\n{shown}"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return list(json.loads(out.strip().splitlines()[-1]))


def test_importing_the_workflows_package_loads_none_of_its_heavy_dependencies() -> None:
    assert _heavy_after("import autodev.workflows") == []
    # A name loads its own module: the catalog needs neither Step Functions nor Postgres, and
    # jsonschema only once a template is loaded (its input schema is checked).
    assert _heavy_after("from autodev.workflows import get_template") == []
    assert _heavy_after("from autodev.workflows import get_template; get_template('bug-fix')") == [
        "jsonschema"
    ]


def test_a_worker_starts_without_the_progress_rendering_slack_or_jsonschema() -> None:
    # What a worker imports before its first claim (functions/claude_worker): progress is
    # rendered and sent in its background lane, which imports those with its first report.
    loaded = _heavy_after(
        "import autodev.orchestrator.worker, autodev.orchestrator.claude_task\n"
        "from autodev.orchestrator.worker import make_runner"
    )
    assert "psycopg" in loaded  # it does claim
    assert not {"jsonschema", "slack_sdk", "autodev.progress.tracking"} & set(loaded)


def test_a_worker_starts_without_what_only_ecs_an_outcome_or_an_approval_needs() -> None:
    # The ECS metadata's HTTP client, botocore's exceptions (the Step Functions client that
    # sends an outcome is made in the background during the first session), the approval
    # summaries' models and the workflows' records (a step's budget is read in the background
    # while its workspace is made): about 7% of a worker's imports (issue 18).
    later = (
        "urllib.request",
        "botocore.exceptions",
        "autodev.workflows.approval_summary",
        "autodev.workflows.records",
    )
    loaded = _heavy_after(
        "import autodev.orchestrator.worker, autodev.orchestrator.claude_task\n"
        "from autodev.orchestrator.worker import make_runner",
        later,
    )
    assert loaded == []


def test_a_step_reads_its_workflow_s_budget_without_the_workflows_models_or_catalog() -> None:
    # The budget is read beside the step's workspace being made, the first step of a fresh
    # worker included, which waited for these (10-20 ms) before its Claude Code could start.
    statement = (
        "import autodev.orchestrator.worker, autodev.orchestrator.claude_task\n"
        "from autodev.workflows.records import workflow_budget"
    )
    assert _heavy_after(statement, ("autodev.workflows.models", "autodev.workflows.catalog")) == []


def test_an_agent_step_loads_no_http_client_for_its_conversation_context() -> None:
    # A step imports the conversations' context while its Claude Code starts, where it counts
    # nothing exactly (upper bounds only): the counting endpoint's HTTP client is imported
    # with the first count (tests/integration/test_models_messages_http.py counts in a new
    # process).
    statement = "from autodev.conversations.runs import agent_system_prompt"
    assert _heavy_after(statement, ("urllib3",)) == []


def test_every_public_name_of_the_workflows_package_resolves_to_its_module() -> None:
    where = autodev.workflows._WHERE
    assert sorted(where) == sorted(autodev.workflows.__all__)
    for name, module in where.items():
        defined = getattr(importlib.import_module(f"autodev.workflows.{module}"), name)
        assert getattr(autodev.workflows, name) is defined


_BUILD_A_MODEL = """
import importlib.metadata


def scanned(*args, **kwargs):
    raise SystemExit("pydantic read the installed distributions for plugins")


importlib.metadata.distributions = scanned
import autodev
from pydantic import BaseModel


class Model(BaseModel):
    x: int


print(Model(x=1).x)
"""


def _build_a_model(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    return subprocess.run(
        [sys.executable, "-c", _BUILD_A_MODEL],
        capture_output=True,
        text=True,
        env={**clean, **env},
    )


def test_a_process_that_imports_autodev_looks_for_no_pydantic_plugins() -> None:
    built = _build_a_model()
    assert (built.returncode, built.stdout.strip()) == (0, "1"), built.stderr
    # Whoever runs it can still have them looked for.
    looked = _build_a_model(PYDANTIC_DISABLE_PLUGINS="")
    assert "read the installed distributions" in looked.stderr
