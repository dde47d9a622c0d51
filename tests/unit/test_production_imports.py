"""Production code never imports the local stand-ins (``autodev.local``).

Production is every module of the autodev package except ``autodev/local`` and
``autodev/cli``, every file under ``functions/`` and ``infra/``. The CLI may use the local
stack, but only inside its command functions, so that ``autodev.cli`` imports without it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "layers" / "autodev" / "python" / "autodev"
LOCAL = "autodev.local"


def _production_files() -> list[Path]:
    found = [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] not in ("local", "cli")
    ]
    for folder in ("functions", "infra"):
        found += sorted((ROOT / folder).rglob("*.py"))
    return found


def _names_local(module: str | None) -> bool:
    return module is not None and (module == LOCAL or module.startswith(LOCAL + "."))


def _local_imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every import of autodev.local in ``tree``: statements, and import_module("...")."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _names_local(alias.name):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and _names_local(node.module):
                yield node.lineno, str(node.module)
            elif node.level == 0 and node.module == "autodev":
                for alias in node.names:
                    if alias.name == "local":
                        yield node.lineno, "autodev.local"
        elif isinstance(node, ast.Call) and node.args:
            called = node.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            first = node.args[0]
            if (
                name in ("import_module", "__import__", "find_spec")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and _names_local(first.value)
            ):
                yield node.lineno, first.value


def _module_level(tree: ast.Module) -> Iterator[ast.stmt]:
    """Statements that run on import: not function bodies, not ``if TYPE_CHECKING:``."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        statement = pending.pop()
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(statement, ast.If):
            test = statement.test
            if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                pending.extend(statement.orelse)
                continue
        yield statement
        for child in ast.iter_child_nodes(statement):
            if isinstance(child, ast.stmt):
                pending.append(child)


def test_the_production_file_list_is_what_ships() -> None:
    files = {path.relative_to(ROOT).as_posix() for path in _production_files()}
    assert "layers/autodev/python/autodev/slack/client.py" in files
    assert "functions/slack_commands/handler.py" in files
    assert "functions/claude_worker/main.py" in files
    assert "infra/layers.py" in files
    assert not [f for f in files if "/autodev/local/" in f or "/autodev/cli/" in f]


def test_no_production_module_imports_the_local_stand_ins() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _production_files()
        for line, name in _local_imports(ast.parse(path.read_text(), str(path)))
    ]
    assert offenders == []


def test_the_cli_imports_the_local_stack_only_inside_its_commands() -> None:
    offenders = []
    for path in sorted((PACKAGE / "cli").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for statement in _module_level(tree):
            for line, name in _local_imports(statement):
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {name} on import")
    assert offenders == []


@pytest.mark.parametrize(
    "source",
    [
        "import autodev.local.stack",
        "from autodev.local.slack import sink",
        "from autodev import local",
        "importlib.import_module('autodev.local.echo')",
    ],
)
def test_the_check_sees_each_form_of_import(source: str) -> None:
    assert list(_local_imports(ast.parse(source)))


def test_the_cli_and_the_handlers_import_without_the_local_package() -> None:
    # A fresh interpreter in which importing autodev.local fails, as in the Lambda layer.
    script = f"""
import importlib.util, sys
sys.modules["autodev.local"] = None
import autodev.cli
for path in sorted(__import__("pathlib").Path({str(ROOT / "functions")!r}).glob("*/handler.py")):
    spec = importlib.util.spec_from_file_location("h_" + path.parent.name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")
