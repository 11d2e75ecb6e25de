"""One protection pattern per model, chosen once and shared by every API instance.

Choosing the withheld cells is the expensive part of a release (the solver: tens of
seconds over a statewide history). Every API instance reads the same data and would choose
the same pattern, so the first to need it chooses it and stores it; the others wait for it
and apply it to the tables they read themselves.

- A pattern is stored under the digest of the model it was chosen for: every cell with its
  truth, what is published of it and whether it is fixed, every constraint, the rule, and
  the reporting code itself, in any order. An instance applies a stored pattern only to a
  model with the same digest: the input its own solver would have had, up to the order
  of its cells (which depends on the process). Nothing else (offsets, the configuration,
  the clock) decides whether a pattern fits.
- A pattern holds positions only (which cells are withheld), no count: what it tells is
  what every published table shows anyway.
- One instance chooses at a time: a session-level advisory lock per digest, taken without
  waiting, polled while the holder works. An instance that died drops its lock with its
  connection, and the next one chooses. After `wait_s` an instance stops waiting and
  chooses itself (the holder may be stuck); either result is the same pattern.
- The newest `keep` patterns are kept; older ones go when a new one is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from durchstarten.db.sqlfiles import SqlFiles
from reporting.audit import CellKey, LinearModel, ProtectionRule
from reporting.protection import Protection

SQL = SqlFiles(Path(__file__).parent / "db")
log = structlog.get_logger()


def _code_digest() -> str:
    """The reporting package's source: other code may choose another pattern."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*")):
        if path.suffix in (".py", ".sql") and path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


CODE = _code_digest()


def variable_labels(model: LinearModel) -> list[str] | None:
    """A label for every variable that does not depend on its position, or None.

    A variable's name is not enough: the audit model repeats names (one per provider set).
    The label is the name, the bounds and every use: each cell (by its key) and each
    constraint the variable appears in, with its coefficient. None when two variables are
    still alike (then positions count: no sharing between processes, never a wrong match).
    """
    uses: list[list[tuple[Any, ...]]] = [[] for _ in model.names]
    for cell in model.cells:
        for index, coefficient in cell.expression.items():
            uses[index].append(("cell", astuple(cell.key), coefficient))
    for constraint in model.constraints:
        for index, coefficient in constraint.expression.items():
            uses[index].append(
                ("constraint", constraint.reason, constraint.lower, constraint.upper, coefficient)
            )
    for defined, terms in model.definitions.items():
        for index, coefficient in terms.items():
            uses[index].append(("defines", model.names[defined], coefficient))
    labels = [
        hashlib.sha256(repr((name, lower, upper, sorted(used, key=repr))).encode()).hexdigest()
        for name, lower, upper, used in zip(
            model.names, model.lower, model.upper, uses, strict=True
        )
    ]
    return labels if len(set(labels)) == len(labels) else None


def model_digest(model: LinearModel, fixed: Callable[[CellKey], bool], rule: ProtectionRule) -> str:
    """What a pattern is chosen from, as one hash (see the module's docstring).

    Independent of the order the model was built in: each instance builds it from sets
    whose order depends on the process (string hashing is salted per process), so cells
    and constraints are hashed sorted, and a variable by its label (`variable_labels`), not its
    position.
    """
    labels = variable_labels(model)
    label: Callable[[int], Any] = (lambda i: i) if labels is None else labels.__getitem__

    def expression(terms: Mapping[int, float]) -> list[tuple[Any, float]]:
        return sorted((label(i), c) for i, c in terms.items())

    variables = [
        (label(i), model.names[i], model.lower[i], model.upper[i]) for i in range(len(model.names))
    ]
    definitions = [(label(i), expression(e)) for i, e in model.definitions.items()]
    parts: list[str] = [
        CODE,
        repr(astuple(rule)),
        repr(variables if labels is None else sorted(variables)),
        repr(sorted(definitions)),
    ]
    cells = sorted(
        repr(
            (
                astuple(cell.key),
                expression(cell.expression),
                cell.published,
                cell.truth,
                cell.floor,
                fixed(cell.key),
            )
        )
        for cell in model.cells
    )
    constraints = sorted(
        repr((expression(c.expression), c.lower, c.upper, c.reason)) for c in model.constraints
    )
    digest = hashlib.sha256()
    for part in [*parts, *cells, *constraints]:
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


@dataclass(frozen=True)
class Chosen:
    """A pattern and how it was chosen."""

    protection: Protection
    unlinked: bool
    """Chosen over the model with the snapshots unlinked (a snapshot of other people)."""
    shared: bool = False
    """Read from the store, chosen by this or another instance before."""


def _keys(keys: Iterable[CellKey]) -> list[list[str]]:
    return sorted(list(astuple(key)) for key in keys)


def _encoded(chosen: Chosen) -> bytes:
    protection = chosen.protection
    body = {
        "hidden": _keys(protection.hidden),
        "primary": _keys(protection.primary),
        "exposed": _keys(protection.exposed),
        "solves": protection.solves,
        "unlinked": chosen.unlinked,
    }
    return zlib.compress(json.dumps(body, separators=(",", ":")).encode())


def _decoded(blob: bytes) -> Chosen:
    body: dict[str, Any] = json.loads(zlib.decompress(blob))

    def keys(name: str) -> frozenset[CellKey]:
        return frozenset(CellKey(*key) for key in body[name])

    protection = Protection(
        keys("hidden"), keys("primary"), int(body["solves"]), None, keys("exposed")
    )
    return Chosen(protection, bool(body["unlinked"]), shared=True)


def _lock_key(digest: str) -> int:
    """The advisory lock of a digest: its first eight bytes as a signed 64-bit number."""
    value: int = struct.unpack(">q", bytes.fromhex(digest[:16]))[0]
    return value


class PatternStore:
    """Patterns in `public.release_patterns`, chosen by one instance at a time."""

    def __init__(
        self, pool: asyncpg.Pool, *, wait_s: float, poll_s: float = 0.25, keep: int = 20
    ) -> None:
        """Store in `pool`'s database; wait up to `wait_s` for another instance's choice."""
        self._pool = pool
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._keep = keep

    async def _find(self, connection: asyncpg.Connection, digest: str) -> Chosen | None:
        blob = await connection.fetchval(SQL["pattern_find"], digest)
        return None if blob is None else _decoded(bytes(blob))

    async def _store(
        self, holder: asyncpg.Connection, digest: str, chosen: Chosen, seconds: float
    ) -> bool:
        """Store `chosen`; False when that failed.

        The pattern is served all the same: the store only spares the others their choice.
        """
        try:
            await holder.execute(
                SQL["pattern_store"], digest, _encoded(chosen), seconds, self._keep
            )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            log.warning("pattern-not-stored", exc_info=True)
            return False
        return True

    async def shared(
        self, digest: str, choose: Callable[[], Awaitable[Chosen]], *, afresh: bool = False
    ) -> Chosen:
        """The pattern stored for `digest`, or the one `choose()` makes, stored.

        While another instance chooses it, wait for theirs. `afresh`: choose it here
        whatever is stored (an operator's recomputation), and store it for the others.
        """
        key = _lock_key(digest)
        # One connection for the lookups and the lock: a second one from the pool could
        # wait for ever on a pool of one.
        async with self._pool.acquire() as holder:
            found = None if afresh else await self._find(holder, digest)
            if found is not None:
                return found
            deadline = time.monotonic() + self._wait_s
            locked = await holder.fetchval(SQL["pattern_try_lock"], key)
            while not locked:
                await asyncio.sleep(self._poll_s)
                found = None if afresh else await self._find(holder, digest)
                if found is not None:
                    return found
                if time.monotonic() > deadline:
                    log.warning("pattern-wait-gave-up", waited_s=self._wait_s)
                    break
                locked = await holder.fetchval(SQL["pattern_try_lock"], key)
            try:
                # chosen while this one took the lock
                found = None if afresh else await self._find(holder, digest)
                if found is not None:
                    return found
                started = time.monotonic()
                chosen = await choose()
                if not await self._store(holder, digest, chosen, time.monotonic() - started):
                    # Its session may be gone; if not, the pool's reset on release
                    # (pg_advisory_unlock_all) drops the lock.
                    locked = False
                return chosen
            finally:
                if locked:
                    await holder.fetchval(SQL["pattern_unlock"], key)


__all__ = ["CODE", "Chosen", "PatternStore", "model_digest"]
