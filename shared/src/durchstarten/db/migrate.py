"""A small migration runner: numbered plain-SQL files, applied once each, under an advisory lock.

Files are named `NNNN_description.sql` and applied in number order, each in its own
transaction. A checksum is stored so an edited, already-applied migration is caught instead
of silently diverging between environments. Several instances may start at once: the
advisory lock lets exactly one of them migrate while the others wait.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.logging import get_logger

log = get_logger(__name__)

_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_KEY = 0x64737472  # "dstr": one advisory lock id for migrations in every database

PLATFORM_MIGRATIONS = Path(__file__).parent / "migrations"

SQL = SqlFiles(Path(__file__).parent / "sql")


class MigrationError(RuntimeError):
    """An applied migration differs from its file, or files are misnamed."""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    scope: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(scope: str, directory: Path) -> list[Migration]:
    """Read the migration files of one scope, in version order."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            msg = f"{path}: migration files are named NNNN_lower_case_words.sql"
            raise MigrationError(msg)
        migrations.append(Migration(scope, int(match[1]), path.stem, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        msg = f"{directory}: two migrations share a version number"
        raise MigrationError(msg)
    return migrations


async def migrate(connection: asyncpg.Connection, scopes: dict[str, Path]) -> list[str]:
    """Apply every pending migration of `scopes` (scope name -> directory); return their names."""
    applied_now: list[str] = []
    await connection.execute(SQL["migrations_lock"], _LOCK_KEY)
    try:
        await connection.execute(SQL["migrations_table"])
        rows = await connection.fetch(SQL["migrations_applied"])
        applied = {(row["scope"], row["version"]): row["checksum"] for row in rows}
        for scope, directory in scopes.items():
            for migration in load_migrations(scope, directory):
                key = (scope, migration.version)
                if key in applied:
                    if applied[key] != migration.checksum:
                        msg = f"{scope}/{migration.name} was changed after it was applied"
                        raise MigrationError(msg)
                    continue
                async with connection.transaction():
                    await connection.execute(migration.sql)
                    await connection.execute(
                        SQL["migrations_record"],
                        scope,
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                log.info("migration applied", scope=scope, migration=migration.name)
                applied_now.append(f"{scope}/{migration.name}")
    finally:
        await connection.execute(SQL["migrations_unlock"], _LOCK_KEY)
    return applied_now
