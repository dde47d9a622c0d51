"""The dependency layer's modules are compiled as it is built, for a read-only /opt."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from infra.layers import PYTHON_VERSION, compile_bytecode, runtime_python


def test_the_layer_build_compiles_bytecode_that_ignores_timestamps(tmp_path: Path) -> None:
    package = tmp_path / "python" / "somepackage"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("ANSWER = 42\n")
    # Here the running interpreter stands in for the runtime's (python3.13 in the build).
    assert compile_bytecode(tmp_path, sys.executable)
    [compiled] = (package / "__pycache__").glob("__init__.*.pyc")
    assert compiled.name == f"__init__.{sys.implementation.cache_tag}.pyc"
    header = compiled.read_bytes()[:8]
    assert header[:4] == importlib.util.MAGIC_NUMBER
    # PEP 552 flags: hash-based (bit 0), source not checked (bit 1 clear).
    assert int.from_bytes(header[4:8], "little") == 0b01


def test_without_the_runtimes_python_the_layer_is_built_without_bytecode(tmp_path: Path) -> None:
    (tmp_path / "module.py").write_text("X = 1\n")
    assert not compile_bytecode(tmp_path, None)
    assert not list(tmp_path.rglob("*.pyc"))


def _interpreter(path: Path, script: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


def test_a_shim_that_cannot_run_the_runtime_python_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pyenv shim is on the PATH whether or not its version is selected; it then fails.
    shims, pyenv = tmp_path / "shims", tmp_path / "pyenv"
    _interpreter(shims / f"python{PYTHON_VERSION}", "echo 'pyenv: command not found' >&2; exit 127")
    installed = pyenv / "versions" / f"{PYTHON_VERSION}.0" / "bin" / f"python{PYTHON_VERSION}"
    _interpreter(installed, f"echo {PYTHON_VERSION}")
    monkeypatch.setenv("PATH", f"{shims}:{os.environ['PATH']}")
    monkeypatch.setenv("PYENV_ROOT", str(pyenv))
    runtime_python.cache_clear()
    try:
        assert runtime_python() == str(installed)
        _interpreter(installed, "echo 3.12")  # another version under the right name
        runtime_python.cache_clear()
        assert runtime_python() != str(installed)
    finally:
        runtime_python.cache_clear()
