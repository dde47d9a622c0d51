"""What the repository holds: Lambda handler folders, workflow templates, the worker image.

The app builds one Lambda per ``functions/<name>/handler.py`` and one state machine per
``statemachines/<template>.asl.json``, so adding either is a matter of adding the file (and,
for a function, one entry in ``function_specs.SPECS``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# functions/ folders that are not Lambda handlers.
NOT_LAMBDAS = frozenset({"claude_worker"})

_SUBSTITUTION = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")
_FOLDER = re.compile(r"^[a-z][a-z0-9_]*$")
_TEMPLATE = re.compile(r"^[a-z][a-z0-9-]*$")


def camel_name(snake: str) -> str:
    """``enqueue_task`` -> ``EnqueueTask``."""
    return "".join(part.capitalize() for part in snake.split("_"))


def arn_substitution(function: str) -> str:
    """The ASL substitution name for a function folder: ``EnqueueTaskFunctionArn``."""
    return f"{camel_name(function)}FunctionArn"


def handler_folders(root: Path = REPO_ROOT) -> list[str]:
    """Every ``functions/<name>`` with a ``handler.py``, sorted, except the worker container."""
    folders = []
    for handler in sorted((root / "functions").glob("*/handler.py")):
        name = handler.parent.name
        if name in NOT_LAMBDAS:
            continue
        if not _FOLDER.match(name):
            raise ValueError(f"functions/{name}: folder names are snake_case (a-z, 0-9, _)")
        folders.append(name)
    return folders


@dataclass(frozen=True)
class WorkflowFile:
    template: str  # "bug-fix" for statemachines/bug-fix.asl.json
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def substitutions(self) -> list[str]:
        """The ``${Name}`` placeholders the file uses, sorted, each once."""
        return sorted(set(_SUBSTITUTION.findall(self.text)))


def workflow_files(root: Path = REPO_ROOT) -> list[WorkflowFile]:
    found = []
    for path in sorted((root / "statemachines").glob("*.asl.json")):
        template = path.name.removesuffix(".asl.json")
        if not _TEMPLATE.match(template):
            raise ValueError(f"statemachines/{path.name}: template names are kebab-case")
        found.append(WorkflowFile(template, path))
    return found


def worker_dockerfile(root: Path = REPO_ROOT) -> Path:
    return root / "functions" / "claude_worker" / "Dockerfile"


def migrations_dir(root: Path = REPO_ROOT) -> Path:
    return root / "layers" / "autodev" / "python" / "autodev" / "db" / "migrations"
