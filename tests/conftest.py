"""Fixtures shared by every test tier.

Integration tests get a fresh, migrated database of their own on a real Postgres server:
``DATABASE_URL`` when it is set (it must allow CREATE DATABASE), else the embedded server from
the ``pgserver`` wheel under ``.autodev/test``. Nothing here mocks the database.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.integration.stoppable_postgres import StoppablePostgres

ROOT = Path(__file__).resolve().parents[1]
TEST_STATE_DIR = ROOT / ".autodev" / "test"


# Settings that would reach real services must not leak in from the developer's shell.
for _variable in ("SLACK_BOT_TOKEN", "ANTHROPIC_API_KEY", "AWS_PROFILE"):
    os.environ.pop(_variable, None)


def _admin_url() -> str:
    configured = os.environ.get("AUTODEV_TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if configured:
        os.environ["AUTODEV_TEST_DATABASE_URL"] = configured
        return configured
    from autodev.db import embedded

    return embedded.embedded_url(TEST_STATE_DIR)


def _with_database(url: str, name: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    params["dbname"] = name
    return make_conninfo(**params)  # type: ignore[arg-type]


def reset_process_state() -> None:
    """Stop the background Slack status sender and forget cached settings, pooled connections
    and health answers, so the next use reads the env anew (a sender left running would read
    it too, and start an embedded Postgres where the test's database was)."""
    from autodev.config import get_settings
    from autodev.db import close_pool
    from autodev.monitoring import forget_cached_health
    from autodev.progress.slack_updates import stop_background_flusher

    stop_background_flusher()
    close_pool()
    get_settings.cache_clear()
    forget_cached_health()


@pytest.fixture
def absent_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """DATABASE_URL names a socket directory with no server in it (yielded): every connection
    attempt fails at once, and the pool gives up after 0.5 s rather than its default 10 s."""
    from autodev.db import get_pool

    monkeypatch.setenv("DATABASE_URL", f"postgresql://nobody@/x?host={tmp_path}")
    reset_process_state()
    try:
        get_pool().timeout = 0.5
        yield tmp_path
    finally:
        reset_process_state()


@pytest.fixture
def fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Fake credentials (moto's) and us-east-1 in the environment, no endpoint: for moto in
    the test's process or no AWS at all. boto3 clients are made anew for the test and after."""
    from autodev.aws import reset_clients

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    reset_clients()
    yield monkeypatch
    reset_clients()


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    return _admin_url()


def _use_state_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str) -> Path:
    """Point the state directory into the test's own temporary directory, and the workspaces
    where Claude Code can reach them: it runs as a user of its own (the tests run as root),
    which cannot pass through pytest's private temporary directory."""
    monkeypatch.setenv("AUTODEV_STATE_DIR", str(tmp_path / "state"))
    workspaces = TEST_STATE_DIR / "workspaces" / name
    monkeypatch.setenv("AUTODEV_WORKSPACE_DIR", str(workspaces))
    return workspaces


def _create_database(admin_url: str, name: str, template: str | None = None) -> None:
    import psycopg

    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"{copy}')


def _drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _new_database(
    admin_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, template: str | None
) -> Iterator[str]:
    """A database of the test's own (a copy of ``template`` when given); DATABASE_URL points
    at it for the test's duration."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    _create_database(admin_url, name, template)
    url = _with_database(admin_url, name)
    monkeypatch.setenv("DATABASE_URL", url)
    workspaces = _use_state_dirs(monkeypatch, tmp_path, name)
    reset_process_state()
    try:
        yield url
    finally:
        reset_process_state()
        shutil.rmtree(workspaces, ignore_errors=True)
        _drop_database(admin_url, name)


@pytest.fixture(scope="session")
def migrated_template(pg_admin_url: str) -> Iterator[str]:
    """A database with every migration applied, made once per run: each test's ``database``
    is a copy of it (CREATE DATABASE ... TEMPLATE), which takes half the time of migrating."""
    from autodev.config import get_settings
    from autodev.db.migrate import Migrator

    name = f"template_{uuid.uuid4().hex[:12]}"
    _create_database(pg_admin_url, name)
    try:
        with pytest.MonkeyPatch.context() as monkeypatch:
            monkeypatch.setenv("DATABASE_URL", _with_database(pg_admin_url, name))
            reset_process_state()
            Migrator(get_settings()).up()
            # A template must have no connection open while it is copied.
            reset_process_state()
        yield name
    finally:
        _drop_database(pg_admin_url, name)


@pytest.fixture
def empty_database(
    pg_admin_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """A new, empty database; DATABASE_URL points at it for the test's duration."""
    with _new_database(pg_admin_url, monkeypatch, tmp_path, None) as url:
        yield url


@pytest.fixture
def database(
    pg_admin_url: str, migrated_template: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """A new database with every migration applied."""
    with _new_database(pg_admin_url, monkeypatch, tmp_path, migrated_template) as url:
        yield url


@pytest.fixture
def stoppable_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[StoppablePostgres]:
    """A migrated database on a Postgres server of this test's own, which it may stop and
    start (``tests.integration.stoppable_postgres``); DATABASE_URL points at it."""
    from autodev.config import get_settings
    from autodev.db.migrate import Migrator
    from tests.integration.stoppable_postgres import StoppablePostgres

    workspaces = _use_state_dirs(monkeypatch, tmp_path, f"stoppable_{uuid.uuid4().hex[:12]}")
    server = StoppablePostgres()
    try:
        _create_database(server.url, "autodev")
        monkeypatch.setenv("DATABASE_URL", server.url_of("autodev"))
        reset_process_state()
        Migrator(get_settings()).up()
        yield server
    finally:
        reset_process_state()
        server.remove()
        shutil.rmtree(workspaces, ignore_errors=True)
