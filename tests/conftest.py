"""Fixtures shared by every test tier.

Integration tests get a fresh, migrated database of their own on a real Postgres server:
``DATABASE_URL`` when it is set (it must allow CREATE DATABASE), else the embedded server from
the ``pgserver`` wheel under ``.autodev/test``. Nothing here mocks the database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

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
    """Forget cached settings, pooled connections and health answers, so the next use reads
    the env anew."""
    from autodev.config import get_settings
    from autodev.db import close_pool
    from autodev.monitoring import forget_cached_health

    close_pool()
    get_settings.cache_clear()
    forget_cached_health()


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    return _admin_url()


@pytest.fixture
def empty_database(
    pg_admin_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """A new, empty database; DATABASE_URL points at it for the test's duration."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(pg_admin_url, name)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("AUTODEV_STATE_DIR", str(tmp_path / "state"))
    reset_process_state()
    try:
        yield url
    finally:
        reset_process_state()
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database(empty_database: str) -> str:
    """A new database with every migration applied."""
    from autodev.config import get_settings
    from autodev.db.migrate import Migrator

    Migrator(get_settings()).up()
    return empty_database
