"""The dependency layer's modules are compiled as it is built, for a read-only /opt."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from infra.layers import compile_bytecode


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
