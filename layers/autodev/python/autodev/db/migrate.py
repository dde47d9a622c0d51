"""Numbered SQL migrations, each an ``NNNN_name.up.sql`` with its ``NNNN_name.down.sql``.

Each migration runs in its own transaction. The runner holds a Postgres advisory lock for the
whole run, so two runs started together apply each migration once. The checksum of every
applied file is recorded; a file changed after it was applied is refused.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql

from autodev.config import Settings
from autodev.db.pool import DatabaseUnavailable, database_url
from autodev.errors import AutodevError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# An arbitrary constant that names "autodev migrations" among advisory locks.
_ADVISORY_LOCK_KEY = 0x617574_6F646576 & 0x7FFFFFFFFFFFFFFF
_FILE_PATTERN = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.up\.sql$")


class MigrationError(AutodevError):
    """The migrations cannot be applied or reverted as asked; nothing was changed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up_path: Path
    down_path: Path

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.up_path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class MigrationState:
    migration: Migration
    applied_at: datetime | None

    @property
    def applied(self) -> bool:
        return self.applied_at is not None


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.glob("*.up.sql")):
        match = _FILE_PATTERN.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.up.sql")
        down = path.with_name(path.name.replace(".up.sql", ".down.sql"))
        if not down.exists():
            raise MigrationError(f"{path.name} has no {down.name} beside it")
        found.append(Migration(int(match["version"]), match["name"], path, down))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return found


_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class Migrator:
    """Applies and reverts migrations on one dedicated connection (not the pool)."""

    def __init__(self, settings: Settings, directory: Path = MIGRATIONS_DIR) -> None:
        self._settings = settings
        self._migrations = discover(directory)

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        try:
            return psycopg.connect(database_url(self._settings), autocommit=True)
        except psycopg.OperationalError as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else "no answer"
            raise DatabaseUnavailable(f"the database is unavailable: {first}") from error

    def _locked(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        conn.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_KEY,))
        # Under the lock, so two first runs cannot race to create the ledger.
        conn.execute(_CREATE_LEDGER)

    def _applied(
        self, conn: psycopg.Connection[tuple[object, ...]]
    ) -> dict[int, tuple[str, datetime]]:
        rows = conn.execute(
            "SELECT version, checksum, applied_at FROM schema_migrations"
        ).fetchall()
        return {int(str(v)): (str(c), a) for v, c, a in rows if isinstance(a, datetime)}

    def _verify(self, applied: dict[int, tuple[str, datetime]]) -> None:
        known = {m.version: m for m in self._migrations}
        for version, (checksum, _) in sorted(applied.items()):
            migration = known.get(version)
            if migration is None:
                raise MigrationError(
                    f"migration {version:04d} is applied but its file is missing; "
                    "restore the file before migrating"
                )
            if migration.checksum != checksum:
                raise MigrationError(
                    f"migration {migration.label} was changed after it was applied "
                    f"(recorded {checksum[:12]}, file {migration.checksum[:12]}); "
                    "add a new migration instead of editing an applied one"
                )

    def up(self) -> list[Migration]:
        """Apply every pending migration in order; return those applied by this run."""
        done: list[Migration] = []
        with self._connect() as conn:
            self._locked(conn)
            try:
                applied = self._applied(conn)
                self._verify(applied)
                for migration in self._migrations:
                    if migration.version in applied:
                        continue
                    with conn.transaction():
                        conn.execute(sql.SQL(migration.up_path.read_text()))
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) "
                            "VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum),
                        )
                    done.append(migration)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_KEY,))
        return done

    def down(self, steps: int | None = None) -> list[Migration]:
        """Revert the last ``steps`` applied migrations (all when None), newest first."""
        if steps is not None and steps < 1:
            raise MigrationError("--steps takes a whole number of 1 or more")
        done: list[Migration] = []
        with self._connect() as conn:
            self._locked(conn)
            try:
                applied = self._applied(conn)
                self._verify(applied)
                to_revert = [m for m in reversed(self._migrations) if m.version in applied]
                for migration in to_revert[:steps]:
                    with conn.transaction():
                        conn.execute(sql.SQL(migration.down_path.read_text()))
                        conn.execute(
                            "DELETE FROM schema_migrations WHERE version = %s", (migration.version,)
                        )
                    done.append(migration)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_KEY,))
        return done

    def status(self) -> list[MigrationState]:
        with self._connect() as conn:
            conn.execute(_CREATE_LEDGER)
            applied = self._applied(conn)
        self._verify(applied)
        return [
            MigrationState(m, applied[m.version][1] if m.version in applied else None)
            for m in self._migrations
        ]
