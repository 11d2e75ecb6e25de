"""Upcasters: old versions of a message become the current model at the consumer's edge.

Each upcaster turns the data of `<name>.vN` into the data of `<name>.vN+1`; chains apply one
step after the other, so a consumer only ever handles the current version. Old versions stay
readable for ever: events are kept for rebuilding projections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from durchstarten.events.values import (
    DEFAULT_LEGAL_BASIS,
    HERFORD_KEYS,
    LegalBasis,
    ResidenceStatus,
    county_of_municipality,
)

Data = dict[str, Any]
Upcaster = Callable[[Data], Data]

UPCASTERS: dict[str, tuple[str, Upcaster]] = {}
"""type -> (next type, function turning the data of `type` into that of the next)."""


def upcaster(old: str, new: str) -> Callable[[Upcaster], Upcaster]:
    """Register `function` as the step from `old` to `new`."""

    def register(function: Upcaster) -> Upcaster:
        if old in UPCASTERS:
            msg = f"{old} already has an upcaster"
            raise ValueError(msg)
        UPCASTERS[old] = (new, function)
        return function

    return register


def current_type(type_: str) -> str:
    """The type an event of `type_` becomes once upcast (itself when it is current)."""
    return _chain(type_)[0]


def upcast(type_: str, data: Data) -> tuple[str, Data]:
    """Apply upcasters until no newer version exists; return the final type and data."""
    current, steps = _chain(type_)
    for step in steps:
        data = step(data)
    return current, data


def _chain(type_: str) -> tuple[str, list[Upcaster]]:
    """The type `type_` becomes and the steps that take its data there, in order.

    The one walk of the upcaster chain: what a type becomes and how its data gets there
    cannot drift apart. Raises ValueError when the chain loops.
    """
    steps: list[Upcaster] = []
    seen = {type_}
    while type_ in UPCASTERS:
        type_, step = UPCASTERS[type_]
        if type_ in seen:
            msg = f"upcaster cycle at {type_}"
            raise ValueError(msg)
        seen.add(type_)
        steps.append(step)
    return type_, steps


def _residence_status(status: str) -> Data:
    legal_basis = DEFAULT_LEGAL_BASIS.get(ResidenceStatus(status), LegalBasis.OTHER)
    return {"status": status, "legal_basis": legal_basis.value, "since": None}


@upcaster("participant.registered.v1", "participant.registered.v2")
def registered_v1_to_v2(data: Data) -> Data:
    """v1 had one overall German level and a bare status; v2 has skills and a legal basis."""
    result = {k: v for k, v in data.items() if k not in {"german_level", "residence_status"}}
    result["german_level_at_entry"] = {"overall": data["german_level"]}
    result["residence_status"] = _residence_status(data["residence_status"])
    result.setdefault("languages", [])
    result.setdefault("eligibility_exception", False)
    return result


@upcaster("register-participant.v1", "register-participant.v2")
def register_v1_to_v2(data: Data) -> Data:
    """Providers still sending v1 keep working: the same mapping as for the event.

    Runs on data already validated as v1, so every field is present and well-formed.
    """
    result = {k: v for k, v in data.items() if k not in {"german_level", "residence_status"}}
    result["german_level"] = {"overall": data["german_level"]}
    result["residence_status"] = _residence_status(data["residence_status"])
    return result


@upcaster("participant.registered.v2", "participant.registered.v3")
def registered_v2_to_v3(data: Data) -> Data:
    """v2 named one of Herford's municipalities; v3 has the official key and the county."""
    key = HERFORD_KEYS[data["municipality"]]
    return {**data, "municipality": key, "county": county_of_municipality(key)}


@upcaster("register-participant.v2", "register-participant.v3")
def register_v2_to_v3(data: Data) -> Data:
    """Herford's providers still sending names keep working: each name becomes its key."""
    return {**data, "municipality": HERFORD_KEYS[data["municipality"]]}
