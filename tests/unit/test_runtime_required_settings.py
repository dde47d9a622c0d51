"""In AWS a missing required setting stops a function's cold start, loudly and first.

Each ``functions/*/handler.py`` is loaded as the Lambda runtime loads it, with a Lambda-like
environment (``AWS_LAMBDA_FUNCTION_NAME``) that lacks one of the settings the handler
declares; the worker's entry point runs with an ECS-like one. The load fails with
MissingSettings naming exactly what is missing, after one log line, and before anything else
happens: no thread is started, no socket listens, and (sockets are disabled in unit tests)
nothing can have been posted anywhere. Outside AWS nothing is required.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import uuid
from pathlib import Path
from types import ModuleType

import psutil
import pytest

from autodev import runtime
from tests.conftest import ROOT

HANDLERS = sorted((ROOT / "functions").glob("*/handler.py"))
WORKER = ROOT / "functions" / "claude_worker" / "main.py"
EVERY_NAME = sorted(
    {
        name
        for value in vars(runtime).values()
        if isinstance(value, runtime.Need)
        for name in value.names
    }
    | {runtime.LAMBDA_MARKER, runtime.ECS_MARKER}
)


def _load(path: Path) -> ModuleType:
    """A fresh copy of the module in ``path``, loaded the way the Lambda runtime loads it."""
    spec = importlib.util.spec_from_file_location(f"t_{uuid.uuid4().hex}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _listening() -> set[tuple[str, int]]:
    return {
        (c.laddr.ip, c.laddr.port)
        for c in psutil.Process().net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in EVERY_NAME:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _meet(monkeypatch: pytest.MonkeyPatch, need: runtime.Need) -> None:
    for name in need.options[0]:
        monkeypatch.setenv(name, "postgresql://u@127.0.0.1:1/x" if "URL" in name else "set")


def test_every_handler_declares_what_it_needs_and_outside_aws_nothing_is_required(
    clean_env: pytest.MonkeyPatch,
) -> None:
    assert HANDLERS, "no handlers found"
    for path in HANDLERS:
        needs = _load(path).NEEDS
        assert needs, f"{path.parent.name} declares no needs"
        assert all(isinstance(need, runtime.Need) for need in needs)
    assert _load(WORKER).NEEDS


@pytest.mark.parametrize("path", HANDLERS, ids=lambda path: path.parent.name)
def test_a_lambda_missing_a_setting_fails_its_cold_start_naming_it(
    path: Path, clean_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    needs: tuple[runtime.Need, ...] = _load(path).NEEDS
    for absent in needs:
        with clean_env.context() as env:
            env.setenv(runtime.LAMBDA_MARKER, f"autodev-dev-{path.parent.name}")
            env.setenv("AWS_REGION", "us-east-1")
            for need in needs:
                if need is not absent:
                    _meet(env, need)
            threads, listening = set(threading.enumerate()), _listening()
            caplog.clear()
            with (
                caplog.at_level(logging.ERROR, logger="autodev.runtime"),
                pytest.raises(runtime.MissingSettings) as raised,
            ):
                _load(path)
            message = str(raised.value)
            for name in absent.options[0]:
                assert name in message, (path.parent.name, message)
            for need in needs:
                if need is not absent:
                    assert not any(name in message for name in need.options[0]), message
            [line] = [r for r in caplog.records if r.name == "autodev.runtime"]
            assert line.levelno == logging.ERROR
            assert line.getMessage() == message
            assert set(threading.enumerate()) == threads
            assert _listening() == listening


def test_a_lambda_with_what_it_needs_loads(clean_env: pytest.MonkeyPatch) -> None:
    for path in HANDLERS:
        needs = _load(path).NEEDS
        with clean_env.context() as env:
            env.setenv(runtime.LAMBDA_MARKER, "autodev-dev-x")
            for need in needs:
                _meet(env, need)
            assert callable(_load(path).handler)


def test_the_worker_in_ecs_stops_before_claiming_anything(
    clean_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clean_env.setenv(runtime.ECS_MARKER, "http://169.254.170.2/v4/x")
    worker = _load(WORKER)
    for need in worker.NEEDS:
        _meet(clean_env, need)
    clean_env.setenv("AUTODEV_MODEL_PROVIDER", "anthropic")
    clean_env.delenv("AUTODEV_EVENT_BUS")
    threads = set(threading.enumerate())
    with pytest.raises(runtime.MissingSettings) as raised:
        worker.main()
    # The anthropic provider needs its key too; both are named at once.
    assert str(raised.value) == (
        "missing required settings: AUTODEV_EVENT_BUS; ANTHROPIC_API_KEY or ANTHROPIC_API_KEY_ARN"
    )
    assert set(threading.enumerate()) == threads


def test_a_database_need_is_met_by_either_form_and_named_whole_when_neither() -> None:
    need = runtime.DATABASE
    assert need.met({"DATABASE_URL": "postgresql://x"})
    assert need.met({"DATABASE_SECRET_ARN": "a", "DATABASE_HOST": "h", "DATABASE_NAME": "n"})
    assert not need.met({"DATABASE_SECRET_ARN": "a"})
    assert need.unmet({}) == "DATABASE_URL or DATABASE_SECRET_ARN+DATABASE_HOST+DATABASE_NAME"
    assert runtime.ECS_WORKERS.unmet({"AUTODEV_ECS_CLUSTER": "c"}) == (
        "AUTODEV_ECS_TASK_DEFINITION, AUTODEV_ECS_SUBNETS"
    )
    assert runtime.require(need, env={}) == (need,)  # outside AWS nothing is checked
