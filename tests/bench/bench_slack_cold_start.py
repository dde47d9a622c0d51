"""Cold-start cost of the Slack command handler: its import time against ``import boto3``.

Each import runs in a fresh interpreter (``-X importtime`` is not needed: we time the import
itself inside the child, so interpreter start-up is excluded), several times, and the medians
are compared. The ratio is what matters on a shared machine: the handler's request path must
stay lighter than boto3 alone, i.e. keep psycopg pools, jsonschema, moto and the workflow
engine off it (they are imported lazily by the Slack worker), and the X-Ray SDK (loaded only
inside Lambda, where Powertools traces).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.conftest import BenchReport

ROOT = Path(__file__).resolve().parents[2]
HANDLER = ROOT / "functions" / "slack_commands" / "handler.py"
RUNS = 7

_TIMED = """
import json, sys, time
start = time.perf_counter()
{body}
elapsed = time.perf_counter() - start
heavy = sorted(m for m in ("psycopg_pool", "jsonschema", "moto", "boto3", "autodev.workflows",
                           "autodev.db", "autodev.config", "aws_xray_sdk")
               if m in sys.modules)
print(json.dumps({{"seconds": elapsed, "heavy": heavy}}))
"""

_HANDLER_IMPORT = f"""
import importlib.util
spec = importlib.util.spec_from_file_location("slack_commands_handler", {str(HANDLER)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
"""


def _time_import(body: str) -> tuple[float, list[str]]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", _TIMED.format(body=body)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return float(result["seconds"]), list(result["heavy"])


@pytest.mark.bench
def test_slack_command_handler_import_vs_boto3(bench: BenchReport) -> None:
    handler_times, boto3_times = [], []
    heavy: list[str] = []
    for _ in range(RUNS):  # interleaved, so both see the same machine load
        seconds, heavy = _time_import(_HANDLER_IMPORT)
        handler_times.append(seconds)
        boto3_times.append(_time_import("import boto3")[0])
    handler_ms = statistics.median(handler_times) * 1000
    boto3_ms = statistics.median(boto3_times) * 1000
    bench.record(
        "slack_commands handler import (median of 7)",
        round(handler_ms, 1),
        "ms",
        round(boto3_ms, 1),
        goal="ratio < 1 (lighter than import boto3 alone)",
    )
    # The promise the lazy imports keep: none of the heavy modules is on the request path.
    assert heavy == [], f"heavy modules imported by the command handler: {heavy}"
