"""Command-line entry of the stand-in ``sf``: parse the real command's flags, answer as it does."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import commands, shapes, state


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # oclif's flag errors: exit 2, printed as JSON under --json.
        _emit(shapes.error("Error", message, "sf", exit_code=2), json_mode="--json" in sys.argv)
        raise SystemExit(2)


def _split(values: list[str] | None) -> list[str]:
    """Multiple flags, each maybe comma-separated, as sf's ``multiple: true, delimiter: ','``."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sf", add_help=False)
    parser.add_argument("words", nargs="+")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--target-org", "-o")
    parser.add_argument("--wait", "-w", type=int)
    parser.add_argument("--api-version", "-a")
    # apex run test
    parser.add_argument("--class-names", "-n", action="append")
    parser.add_argument("--tests", "-t", action="append")
    parser.add_argument("--test-level", "-l")
    parser.add_argument("--code-coverage", "-c", action="store_true")
    parser.add_argument("--result-format", "-r")
    parser.add_argument("--synchronous", "-y", action="store_true")
    # project deploy validate / quick
    parser.add_argument("--source-dir", "-d", action="append")
    parser.add_argument("--job-id", "-i")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--concise", action="store_true")
    # org login sfdx-url
    parser.add_argument("--sfdx-url-file", "-f")
    parser.add_argument("--alias")
    parser.add_argument("--set-default", "-s", action="store_true")
    return parser


def _emit(document: dict[str, Any], json_mode: bool) -> None:
    if json_mode:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    elif "message" in document and "result" not in document:
        sys.stderr.write(f"Error ({document['name']}): {document['message']}\n")
    else:
        sys.stdout.write(json.dumps(document.get("result"), indent=2) + "\n")


def run(argv: Sequence[str], cwd: Path) -> tuple[dict[str, Any], int]:
    flags = _parser().parse_args(list(argv))
    command = " ".join(flags.words)
    if command in {"apex run test", "apex test run"}:
        return commands.apex_run_test(
            cwd,
            flags.target_org,
            _split(flags.class_names),
            _split(flags.tests),
            flags.test_level,
            flags.code_coverage,
        )
    if command == "project deploy validate":
        return commands.deploy_validate(
            cwd,
            flags.target_org,
            _split(flags.source_dir),
            flags.test_level or "RunLocalTests",
            _split(flags.tests),
        )
    if command == "project deploy quick":
        return commands.deploy_quick(flags.target_org, flags.job_id)
    if command == "org login sfdx-url":
        return commands.login_sfdx_url(flags.sfdx_url_file, flags.alias)
    return shapes.error("Error", f"command {command} not found", "sf", exit_code=127), 127


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        document, status = run(arguments, Path.cwd())
    except commands.CommandError as failure:
        document, status = failure.answer, int(failure.answer["exitCode"])
    except state.StandinStateMissing as missing:
        document, status = shapes.error("StandinStateMissing", str(missing), "sf"), 1
    _emit(document, "--json" in arguments)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
