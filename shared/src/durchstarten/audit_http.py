"""The audit trail over HTTP, in every service: check the chain, list what concerns a person.

County staff verify that no entry was changed or removed, and answer an access request
(Art. 15: who read or wrote the person's record, when and why) from each service's own
trail.
"""

# No `from __future__ import annotations`: FastAPI resolves the routes' annotations, and
# the aliases they use are local to the function that adds them.
import uuid
from collections.abc import Callable
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI

from durchstarten import audit
from durchstarten.auth import Principal, PrincipalDependency, Role
from durchstarten.jsonable import jsonable


def add_audit_routes(
    app: FastAPI, pool: Callable[[], asyncpg.Pool], principal: PrincipalDependency
) -> None:
    """`GET /v1/audit/verification` and `GET /v1/audit/participants/{id}`: staff only."""
    CurrentPrincipal = Annotated[Principal, Depends(principal)]

    @app.get("/v1/audit/verification", tags=["audit"])
    async def verify_audit(caller: CurrentPrincipal) -> dict[str, Any]:
        """Recompute the audit trail's keyed chain; name the first broken (or missing) entry."""
        caller.require(Role.ADMIN, Role.COORDINATOR)
        async with pool().acquire() as connection:
            result = await audit.verify(connection)
        return {
            "entries": result.entries,
            "head_seq": result.head_seq,
            "intact": result.intact,
            "first_broken_seq": result.first_broken_seq,
        }

    @app.get("/v1/audit/participants/{participant_id}", tags=["audit"])
    async def entries_about(participant_id: uuid.UUID, caller: CurrentPrincipal) -> dict[str, Any]:
        """Who read or wrote this person's rows in this service, when and why (oldest first)."""
        caller.require(Role.ADMIN, Role.COORDINATOR)
        async with pool().acquire() as connection:
            entries = await audit.entries_about(connection, participant_id)
        return {"participant_id": str(participant_id), "entries": jsonable(entries)}
