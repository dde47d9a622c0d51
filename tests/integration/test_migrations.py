"""Migrations against a real Postgres: up, status, down, concurrency, checksums, rollback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from autodev.config import get_settings
from autodev.db import DatabaseUnavailable
from autodev.db.migrate import _ADVISORY_LOCK_KEY, MigrationError, Migrator, discover

SPEC_TABLES = {
    "conversations",
    "conversation_messages",
    "user_memories",
    "task_callbacks",
    "task_results",
    "workflows",
    "monitoring_metrics",
    "monitoring_alerts",
    "autonomous_tasks",
    "scheduled_jobs",
    "audit_log",
}


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def autodev(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autodev.cli", *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_up_status_down_up_through_the_cli(empty_database: str) -> None:
    first = autodev("migrate", "up")
    assert first.returncode == 0, first.stderr
    assert tables(empty_database) >= SPEC_TABLES

    status = autodev("migrate", "status")
    assert status.returncode == 0, status.stderr
    assert "0 pending" in status.stdout
    assert "pending" not in status.stdout.replace("0 pending", "")

    down = autodev("migrate", "down")
    assert down.returncode == 0, down.stderr
    assert tables(empty_database) & SPEC_TABLES == set()

    again = autodev("migrate", "up")
    assert again.returncode == 0, again.stderr
    assert tables(empty_database) >= SPEC_TABLES


def test_down_steps_reverts_only_the_newest(empty_database: str) -> None:
    migrator = Migrator(get_settings())
    migrator.up()
    newest = discover()[-1]
    reverted = migrator.down(steps=1)
    assert [m.version for m in reverted] == [newest.version]
    states = migrator.status()
    assert [s.applied for s in states] == [s.migration != newest for s in states]
    with pytest.raises(MigrationError, match="--steps"):
        migrator.down(steps=0)


def test_two_concurrent_runs_apply_each_migration_once(empty_database: str) -> None:
    # Hold the runner's advisory lock so both processes are certainly waiting on it together,
    # then let go: they race for it at the same moment.
    with psycopg.connect(empty_database, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_KEY,))
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "autodev.cli", "migrate", "up"],
                env=dict(os.environ),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        _wait_for_lock_waiters(holder, 2)
        holder.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_KEY,))
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    applied_lines = [
        line for out, _ in outputs for line in out.splitlines() if line.startswith("applied")
    ]
    assert len(applied_lines) == len(discover())
    with psycopg.connect(empty_database) as conn:
        rows = conn.execute("SELECT version, count(*) FROM schema_migrations GROUP BY 1").fetchall()
    assert {count for _, count in rows} == {1}
    assert len(rows) == len(discover())


def _wait_for_lock_waiters(conn: psycopg.Connection[tuple[object, ...]], count: int) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchone()
        if row is not None and int(str(row[0])) >= count:
            return
        time.sleep(0.05)  # polling a condition with a deadline, not a synchronising sleep
    raise AssertionError("the migration runs never waited on the advisory lock")


def _write(directory: Path, name: str, up: str, down: str) -> None:
    (directory / f"{name}.up.sql").write_text(up)
    (directory / f"{name}.down.sql").write_text(down)


def test_a_changed_applied_file_is_refused(empty_database: str, tmp_path: Path) -> None:
    _write(tmp_path, "0001_things", "CREATE TABLE things (id int);", "DROP TABLE things;")
    migrator = Migrator(get_settings(), tmp_path)
    migrator.up()
    _write(tmp_path, "0001_things", "CREATE TABLE things (id bigint);", "DROP TABLE things;")
    _write(tmp_path, "0002_more", "CREATE TABLE more (id int);", "DROP TABLE more;")
    with pytest.raises(MigrationError, match="0001_things was changed after it was applied"):
        Migrator(get_settings(), tmp_path).up()
    assert "more" not in tables(empty_database)


def test_a_failing_migration_rolls_back_whole(empty_database: str, tmp_path: Path) -> None:
    _write(tmp_path, "0001_good", "CREATE TABLE good (id int);", "DROP TABLE good;")
    _write(
        tmp_path,
        "0002_bad",
        "CREATE TABLE half (id int); SELECT * FROM no_such_table;",
        "DROP TABLE half;",
    )
    with pytest.raises(psycopg.errors.UndefinedTable):
        Migrator(get_settings(), tmp_path).up()
    present = tables(empty_database)
    assert "good" in present
    assert "half" not in present
    states = Migrator(get_settings(), tmp_path).status()
    assert [s.applied for s in states] == [True, False]


def test_a_database_that_is_down_gets_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.conftest import reset_process_state

    monkeypatch.setenv("DATABASE_URL", f"postgresql://nobody@/x?host={tmp_path}&connect_timeout=2")
    reset_process_state()
    with pytest.raises(DatabaseUnavailable, match="the database is unavailable"):
        Migrator(get_settings()).up()
    done = autodev("migrate", "status")
    assert done.returncode == 1
    assert done.stderr.startswith("autodev: the database is unavailable")
    assert len(done.stderr.strip().splitlines()) == 1
    reset_process_state()
