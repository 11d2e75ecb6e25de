"""Two roles per service database: the owner migrates, the runtime role only works the data.

The owner (`DURCHSTARTEN_DATABASE_OWNER_URL`) owns the schema and runs every migration; after
each start's migrations it grants the service's runtime role (`DURCHSTARTEN_DATABASE_URL`)
what the service needs and no more: reading and writing the service's tables, but on the
audit trail only reading, and on the trail's key and head nothing at all (entries are
appended and checked through functions that run with the owner's rights). A runtime role
that is broken into can therefore neither rewrite, delete nor truncate the audit trail, nor
forge an entry's MAC; PostgreSQL refuses it.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from durchstarten.db.sqlfiles import SqlFiles

SQL = SqlFiles(Path(__file__).parent / "sql")
APPEND_ONLY = ("audit_trail",)
"""Tables the runtime role may read and, through functions, append to: never change."""
OWNER_ONLY = ("audit_key", "audit_head", "audit_base", "audit_policy", "schema_migrations")
"""Tables the runtime role gets no right on at all (the migrations' own, and the trail's)."""
RUNTIME_FUNCTIONS = (
    "audit_append(text, text, uuid, text)",
    "audit_verify()",
    "audit_purge()",
)


def _ident(name: str) -> str:
    # GRANT takes no parameters for names: they are quoted as identifiers instead.
    return '"' + name.replace('"', '""') + '"'


async def grant_runtime(owner: asyncpg.Connection, role: str) -> None:
    """Give `role` the service's rights on the owner's schema, as the module says.

    Run after the migrations, each start: tables a migration added get their grants too.
    """
    who = _ident(role)
    tables = [row["tablename"] for row in await owner.fetch(SQL["public_tables"])]
    async with owner.transaction():
        await owner.execute(f"GRANT USAGE ON SCHEMA public TO {who}")
        await owner.execute(f"REVOKE CREATE ON SCHEMA public FROM {who}")
        for table in tables:
            name = _ident(table)
            await owner.execute(f"REVOKE ALL ON {name} FROM {who}")
            if table in APPEND_ONLY:
                await owner.execute(f"GRANT SELECT ON {name} TO {who}")
            elif table not in OWNER_ONLY:
                await owner.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {who}")
        await owner.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}")
        for function in RUNTIME_FUNCTIONS:
            await owner.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {who}")


async def current_role(connection: asyncpg.Connection) -> str:
    """The role a connection works as."""
    role: str = await connection.fetchval(SQL["current_role"])
    return role
