"""Verify intake's audit trail: `python -m intake.verify_audit` (exit 1 when tampered with).

Reads DURCHSTARTEN_DATABASE_URL like the service; prints the number of entries and, if the
keyed chain is broken (an entry changed, or entries missing at the end), the first entry
that does not fit. The key stays in the database: the check runs there.
"""

from __future__ import annotations

import asyncio
import os
import sys

import asyncpg

from durchstarten.audit import verify


async def _main(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        result = await verify(connection)
    finally:
        await connection.close()
    if result.intact:
        print(f"audit trail intact: {result.entries} entries")
        return 0
    print(f"audit trail BROKEN at entry {result.first_broken_seq}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(_main(os.environ["DURCHSTARTEN_DATABASE_URL"])))
