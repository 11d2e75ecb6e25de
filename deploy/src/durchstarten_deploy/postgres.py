"""PostgreSQL for the local stack: a server named by DATABASE_URL, or a cluster of our own.

Our own cluster lives in a data directory outside git, listens on 127.0.0.1 on a free port,
and requires a password (generated, kept in the state directory). PostgreSQL refuses to run
as root, so under root the cluster runs as the system's `postgres` user.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from durchstarten_deploy.processes import (
    StackError,
    port_open,
    stop_pid,
    wait_until,
    write_private,
)

SUPERUSER = "durchstarten"


def find_bin_dir() -> Path:
    """The folder with initdb and postgres: Debian's newest, else PATH, else pgserver's."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_major, reverse=True)
    if debian:
        return debian[0].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    try:
        import pgserver  # type: ignore[import-not-found]  # noqa: PLC0415  # optional extra

        return Path(pgserver.__file__).parent / "pginstall" / "bin"
    except ImportError:
        pass
    msg = (
        "PostgreSQL server binaries not found: apt-get install postgresql, "
        "or set DATABASE_URL to an existing server, or `uv pip install pgserver`"
    )
    raise StackError(msg)


def _major(path: Path) -> int:
    try:
        return int(path.parent.parent.name)
    except ValueError:
        return 0


def with_database(url: str, database: str) -> str:
    """`url` pointing at another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(database), parts.query, ""))


DURABILITY_ENV = "DURCHSTARTEN_LOCAL_DURABILITY"


def local_durability() -> bool:
    """Whether a local server commits durably: yes, unless `DURCHSTARTEN_LOCAL_DURABILITY=off`.

    Off trades crash safety for speed on a developer's machine; anything but `on` or `off`
    is refused, so a typo does not silently turn durability off.
    """
    value = os.environ.get(DURABILITY_ENV, "on").strip().lower()
    if value not in {"on", "off"}:
        msg = f"{DURABILITY_ENV} must be 'on' or 'off', not {value!r}"
        raise StackError(msg)
    return value == "on"


@dataclass
class LocalPostgres:
    """A PostgreSQL cluster of our own under `directory`."""

    directory: Path
    port: int
    durable: bool = field(default_factory=local_durability)
    process: subprocess.Popen[bytes] | None = None
    _password: str = field(default="", repr=False)

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.directory / "data"

    @property
    def log_file(self) -> Path:
        """Where the server writes its log."""
        return self.directory / "postgres.log"

    @property
    def admin_url(self) -> str:
        """Superuser URL of the maintenance database."""
        return f"postgresql://{SUPERUSER}:{quote(self._password)}@127.0.0.1:{self.port}/postgres"

    def _run_as(self) -> tuple[int, int] | None:
        if os.geteuid() != 0:
            return None
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            msg = "running as root needs the system user 'postgres' (apt-get install postgresql)"
            raise StackError(msg) from None
        return user.pw_uid, user.pw_gid

    def _cmd(self, args: list[str], ids: tuple[int, int] | None) -> list[str]:
        if ids is None:
            return args
        return ["setpriv", f"--reuid={ids[0]}", f"--regid={ids[1]}", "--clear-groups", *args]

    def start(self, *, timeout_s: float = 60.0) -> None:
        """Initdb on first use, then start the server and wait until it accepts logins."""
        bin_dir = find_bin_dir()
        ids = self._run_as()
        self.directory.mkdir(parents=True, exist_ok=True)
        password_file = self.directory / "superuser-password"
        if ids is not None:
            _make_traversable(self.directory)
        if not (self.data_dir / "PG_VERSION").exists():
            shutil.rmtree(self.data_dir, ignore_errors=True)
            write_private(password_file, secrets.token_urlsafe(24))
            self.data_dir.mkdir(mode=0o700)
            pwfile = self.directory / "pwfile"
            write_private(pwfile, password_file.read_text())
            if ids is not None:
                for path in (self.directory, self.data_dir, pwfile):
                    os.chown(path, *ids)
            result = subprocess.run(  # our own command line
                self._cmd(
                    [
                        str(bin_dir / "initdb"),
                        "-D",
                        str(self.data_dir),
                        "-U",
                        SUPERUSER,
                        f"--pwfile={pwfile}",
                        "--auth=scram-sha-256",
                        "--encoding=UTF8",
                        "--locale=C.UTF-8",
                    ],
                    ids,
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            pwfile.unlink()
            if result.returncode != 0:
                msg = f"initdb failed:\n{result.stdout}{result.stderr}"
                raise StackError(msg)
        self._password = password_file.read_text().strip()
        if ids is not None:
            os.chown(self.directory, *ids)
        log = self.log_file.open("ab")
        if ids is not None:
            os.chown(self.log_file, *ids)
        self.process = subprocess.Popen(  # our own command line
            self._cmd(
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(self.data_dir),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.directory}",
                    "-c",
                    "max_connections=200",
                    "-c",
                    "shared_buffers=256MB",
                    # Durable as production unless a developer opts out: without
                    # synchronous commit, a crash loses transactions whose outbox rows
                    # were published and whose Kafka offsets were committed (issue 17).
                    "-c",
                    f"synchronous_commit={'on' if self.durable else 'off'}",
                    # Commit times of rows (pg_xact_commit_timestamp): the benchmarks measure
                    # end-to-end lag up to the commit of the projection that applied an event.
                    "-c",
                    "track_commit_timestamp=on",
                ],
                ids,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        (self.directory / "postgres.pid").write_text(str(self.process.pid))

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                msg = f"PostgreSQL exited with code {self.process.returncode}; see {self.log_file}"
                raise StackError(msg)
            return port_open(self.port) and asyncio.run(_can_login(self.admin_url))

        wait_until(ready, timeout_s=timeout_s, what="PostgreSQL", log=self.log_file)

    def stop(self) -> None:
        """Fast shutdown: SIGINT (SIGTERM would wait for every client to disconnect)."""
        if self.process is not None:
            stop_pid(self.process.pid, timeout_s=30, process=self.process, sig=signal.SIGINT)
            self.process = None
        (self.directory / "postgres.pid").unlink(missing_ok=True)


def _make_traversable(directory: Path) -> None:
    """Let the `postgres` user reach `directory`: add only the search (x) bit where missing."""
    for ancestor in directory.parents:
        mode = ancestor.stat().st_mode
        if not mode & 0o001:
            ancestor.chmod(mode | 0o001)


async def _can_login(url: str) -> bool:
    try:
        connection = await asyncpg.connect(url, timeout=2)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


async def create_databases(admin_url: str, names: list[str], *, recreate: bool = False) -> None:
    """Create each database that does not exist (dropping it first when `recreate`)."""
    connection = await asyncpg.connect(admin_url)
    try:
        for name in names:
            exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if exists and recreate:
                await connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                exists = None
            if not exists:
                await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


@dataclass(frozen=True)
class ServiceRoles:
    """A database's two login roles and their URLs: the owner migrates, the runtime works."""

    owner_url: str
    runtime_url: str


async def create_service_roles(
    admin_url: str, database: str, *, owner_password: str, runtime_password: str
) -> ServiceRoles:
    """An owner and a runtime role for `database` (made if missing), the owner owning it all.

    The owner becomes the database's and its public schema's owner (and of every object in it
    made before, so an older stack's database carries over); the runtime role may connect and
    gets its rights on the tables from the owner at each start (durchstarten.db.roles).
    """
    owner, runtime = f"{database}_owner", f"{database}_app"
    connection = await asyncpg.connect(admin_url)
    try:
        for role, password in ((owner, owner_password), (runtime, runtime_password)):
            exists = await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            # Names and passwords cannot be parameters of these statements: quoted instead.
            await connection.execute(f'{verb} ROLE "{role}" LOGIN PASSWORD {_literal(password)}')
        await connection.execute(f'ALTER DATABASE "{database}" OWNER TO "{owner}"')
        await connection.execute(f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC')
        await connection.execute(
            f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO "{runtime}"'
        )
    finally:
        await connection.close()
    inside = await asyncpg.connect(with_database(admin_url, database))
    try:
        await inside.execute(f'ALTER SCHEMA public OWNER TO "{owner}"')
        await inside.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        await inside.execute(_REASSIGN.replace("$owner", owner.replace('"', '""')))
    finally:
        await inside.close()
    return ServiceRoles(
        owner_url=with_login(admin_url, database, owner, owner_password),
        runtime_url=with_login(admin_url, database, runtime, runtime_password),
    )


# Tables, sequences, views and functions an earlier stack made as the superuser go to the
# owner, so its migrations can go on altering them.
_REASSIGN = """
DO $$
DECLARE
    item record;
BEGIN
    FOR item IN
        SELECT c.relname AS name, c.relkind AS kind FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
    LOOP
        EXECUTE format('ALTER TABLE %I OWNER TO "$owner"', item.name);
    END LOOP;
    FOR item IN
        SELECT p.oid::regprocedure AS signature FROM pg_proc AS p
        JOIN pg_namespace AS n ON n.oid = p.pronamespace
        LEFT JOIN pg_depend AS d ON d.objid = p.oid AND d.deptype = 'e'
        WHERE n.nspname = 'public' AND d.objid IS NULL
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO "$owner"', item.signature);
    END LOOP;
END $$
"""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def with_login(url: str, database: str, user: str, password: str) -> str:
    """`url`'s server, as `user` with `password`, on `database`."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, "/" + quote(database), parts.query, ""))
