"""Legal holds over HTTP: a county coordinator stops the deletion schedule for one person.

A hold carries a reason (sealed with the person's own key, so it goes with the identifiers
when they are erased), is listed for review while in force, and is audited when set and
when released. It stops only the schedule: an erasure the person asks for (Art. 17) is
decided by the controller, who sees the hold in the person's record.
"""

# No `from __future__ import annotations`: FastAPI resolves the routes' annotations, and
# the aliases they use are local to the function that adds them.
import uuid
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from durchstarten import audit
from durchstarten.auth import Principal, Role, TokenVerifier
from durchstarten.events.reasons import ReasonCode
from durchstarten.jsonable import jsonable
from durchstarten.messaging.commands import Actor
from durchstarten.pagination import PageRequest, paged
from durchstarten.service import ServiceRuntime
from intake import domain, repository
from intake.identities import KeyRing

HoldsPage = Annotated[PageRequest, Depends(paged("legal-holds", int))]


class LegalHoldRequest(BaseModel):
    """Why the person's identifiers must outlive their deletion date."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str = Field(
        min_length=10,
        max_length=1000,
        description="The legal ground (e.g. a pending court case); sealed, never in an event.",
    )


def _refusal(status: int, reason: ReasonCode, en: str, de: str) -> HTTPException:
    return HTTPException(status, {"reason": reason, "message_en": en, "message_de": de})


def add_legal_hold_routes(
    app: FastAPI, runtime: ServiceRuntime, ring: KeyRing, verifier: TokenVerifier
) -> None:
    """Set, release and list legal holds: county coordinators (and admins) only."""
    CurrentPrincipal = Annotated[Principal, Depends(verifier.principal)]

    @app.put("/v1/participants/{participant_id}/legal-hold", status_code=201, tags=["deletion"])
    async def set_hold(
        participant_id: uuid.UUID, body: LegalHoldRequest, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        """Stop the scheduled deletion of this person's identifiers until released."""
        principal.require(Role.COORDINATOR, Role.ADMIN)
        async with runtime.pool.acquire() as connection, connection.transaction():
            state = await repository.load_state(connection, participant_id)
            if state is None or not Actor.from_principal(principal).covers(state.county):
                raise HTTPException(404, {"reason": ReasonCode.UNKNOWN_PARTICIPANT})
            sealed = await ring.encrypt_for(participant_id, body.reason)
            if state.status in {domain.ERASED, domain.DENIED} or sealed is None:
                raise _refusal(
                    409,
                    ReasonCode.PARTICIPANT_ERASED,
                    "The identifiers are erased already: nothing is left to hold.",
                    "Die Daten sind bereits gelöscht.",
                )
            if not await repository.set_legal_hold(
                connection, participant_id, reason=sealed, set_by=principal.subject
            ):
                raise _refusal(
                    409,
                    ReasonCode.LEGAL_HOLD_IN_FORCE,
                    "A legal hold is in force on this person already.",
                    "Für diese Person besteht bereits eine Löschsperre.",
                )
            await audit.record(
                connection,
                actor=principal.subject,
                action="legal-hold.set",
                participant_id=participant_id,
                purpose="legal hold: scheduled deletion stopped",
            )
        return {"participant_id": str(participant_id), "legal_hold": "in-force"}

    @app.delete("/v1/participants/{participant_id}/legal-hold", tags=["deletion"])
    async def release_hold(
        participant_id: uuid.UUID, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        """End the hold: the schedule erases the identifiers on its next pass if they are due."""
        principal.require(Role.COORDINATOR, Role.ADMIN)
        async with runtime.pool.acquire() as connection, connection.transaction():
            state = await repository.load_state(connection, participant_id)
            if state is None or not Actor.from_principal(principal).covers(state.county):
                raise HTTPException(404, {"reason": ReasonCode.UNKNOWN_PARTICIPANT})
            if not await repository.release_legal_hold(
                connection, participant_id, released_by=principal.subject
            ):
                raise _refusal(
                    404,
                    ReasonCode.NO_LEGAL_HOLD,
                    "No legal hold is in force on this person.",
                    "Für diese Person besteht keine Löschsperre.",
                )
            await audit.record(
                connection,
                actor=principal.subject,
                action="legal-hold.release",
                participant_id=participant_id,
                purpose="legal hold released",
            )
        return {"participant_id": str(participant_id), "legal_hold": "released"}

    @app.get("/v1/coordination/legal-holds", tags=["deletion"])
    async def holds_in_force(principal: CurrentPrincipal, page: HoldsPage) -> dict[str, Any]:
        """Holds in force, oldest first, for review (who set them and when; no reasons)."""
        principal.require(Role.COORDINATOR, Role.ADMIN)
        after = page.after_or_nones(1)[0]
        async with runtime.pool.acquire() as connection:
            rows = await repository.open_legal_holds(
                connection,
                after=after,
                limit=page.fetch_limit(),
                county=Actor.from_principal(principal).county,
            )
        return page.answer("in_force", rows, lambda r: (r["hold_id"],), jsonable)
