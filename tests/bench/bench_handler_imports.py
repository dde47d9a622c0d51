"""Cold start of every Lambda handler: its import in a fresh interpreter against ``import boto3``.

Each handler (``functions/*/handler.py``, loaded by path as the Lambda runtime does) and the
baseline are imported in fresh interpreters, interleaved so both see the same machine load; the
import itself is timed inside the child, so interpreter start-up is left out. Two ways:

- compiled: with the bytecode that ``make setup``, the worker image and the layer build compile
  (a warm-up import writes whatever is missing);
- no bytecode: every module compiled from source on import (``PYTHONPYCACHEPREFIX`` at an
  empty directory and nothing written), the baseline too: what a read-only deployment without
  compiled files pays on each cold start.

Rows "import <handler>" and "import <handler> (no bytecode)". In the default suite one handler
runs once, compiled; ``make bench`` runs every handler both ways (``AUTODEV_BENCH_IMPORT_RUNS``
times each, 9 by default: with 5, one handler's ``import boto3`` median ranged from 163 to
268 ms within one run, and slack_commands read 1.015 against the fast one, 0.78-0.84 in
three other runs).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.bench.conftest import BenchReport, bench_size

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(ROOT.glob("functions/*/handler.py"))

_TIMED = """
import importlib.util, json, time
start = time.perf_counter()
{body}
print(json.dumps(time.perf_counter() - start))
"""


def _handler_import(path: Path) -> str:
    return (
        f"spec = importlib.util.spec_from_file_location('handler', {str(path)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)"
    )


def _seconds(body: str, env: dict[str, str]) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _TIMED.format(body=body)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def _environments(empty_cache: str) -> dict[str, dict[str, str]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONPYCACHE")}
    base.pop("PYTHONDONTWRITEBYTECODE", None)
    return {
        "": base,
        " (no bytecode)": {
            **base,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPYCACHEPREFIX": empty_cache,
        },
    }


@pytest.mark.bench
def test_every_handler_import_against_boto3(bench: BenchReport) -> None:
    runs = bench_size("AUTODEV_BENCH_IMPORT_RUNS", small=1, full=9)
    full = os.environ.get("AUTODEV_BENCH_FULL") == "1"
    handlers = HANDLERS if full else HANDLERS[:1]
    assert handlers, "no functions/*/handler.py"
    with tempfile.TemporaryDirectory() as empty_cache:
        environments = _environments(empty_cache)
        for label, env in environments.items() if full else list(environments.items())[:1]:
            for handler in handlers:
                body = _handler_import(handler)
                if not label:
                    _seconds(body, env)  # writes whatever bytecode is missing
                ours, boto3 = [], []
                for _ in range(runs):
                    ours.append(_seconds(body, env))
                    boto3.append(_seconds("import boto3", env))
                bench.record(
                    f"import {handler.parent.name}{label}",
                    round(statistics.median(ours) * 1000, 1),
                    "ms vs import boto3 ms",
                    round(statistics.median(boto3) * 1000, 1),
                    goal="<= 1.0",
                )
