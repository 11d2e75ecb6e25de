"""The contract: examples round-trip and match the committed schemas; versions evolve safely."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import date
from typing import Any, ClassVar, get_args

import jsonschema
import pytest
from pydantic import BaseModel, ValidationError

from durchstarten.events import BY_TYPE, CATALOGUE, COMMANDS, CloudEvent, Entry, Kind, read_event
from durchstarten.events.base import Command
from durchstarten.events.compatibility import breaking_changes
from durchstarten.events.export import SCHEMA_DIR, contract_problems, message_schema, stale
from durchstarten.events.intake import ParticipantRegistered, ParticipantRegisteredV1
from durchstarten.events.upcasting import UPCASTERS, upcast
from durchstarten.events.values import EARLIEST_DATE, LATEST_DATE

ENTRIES = {entry.type: entry for entry in CATALOGUE}


def committed(entry: Entry) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / f"{entry.type}.json").read_text())
    return schema


@pytest.mark.parametrize("type_", list(ENTRIES))
def test_every_message_round_trips_json_and_matches_its_committed_schema(type_: str) -> None:
    entry = ENTRIES[type_]
    model = entry.model.model_validate(entry.model.example)
    wire = json.loads(model.model_dump_json())
    jsonschema.Draft202012Validator(committed(entry)).validate(wire)
    assert entry.model.model_validate(wire) == model
    envelope = CloudEvent.model_validate(
        {
            "id": "1",
            "source": "/s",
            "type": entry.type,
            "time": "2022-01-01T00:00:00Z",
            "data": wire,
        }
    )
    assert CloudEvent.from_json(envelope.to_json()) == envelope


def test_committed_artefacts_match_the_models() -> None:
    assert contract_problems() == []
    assert stale() == []


def test_every_old_version_upcasts_to_a_valid_current_message() -> None:
    for old, (new, _) in UPCASTERS.items():
        type_, data = upcast(old, copy.deepcopy(BY_TYPE[old].model.example))
        assert BY_TYPE[type_].current
        BY_TYPE[type_].model.model_validate(data)
        assert type_ == new or new in UPCASTERS


def test_a_stored_old_version_event_is_read_as_the_current_model() -> None:
    stored = json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/services/intake",
            "type": "participant.registered.v1",
            "time": "2021-06-14T09:00:00Z",
            "subject": ParticipantRegisteredV1.example["participant_id"],
            "data": ParticipantRegisteredV1.example,
        }
    ).encode()
    event = read_event(CloudEvent.from_json(stored))
    assert isinstance(event, ParticipantRegistered)
    assert event.german_level_at_entry.overall == "A1"
    assert event.german_level_at_entry.speaking is None
    assert event.residence_status.status == "gestattung"
    assert event.residence_status.legal_basis == "asylg-55"
    assert event.languages == []


def test_an_unknown_event_type_is_ignored_by_tolerant_readers() -> None:
    envelope = CloudEvent.model_validate(
        {
            "id": "1",
            "source": "/s",
            "type": "something.new.v1",
            "time": "2022-01-01T00:00:00Z",
            "data": {},
        }
    )
    assert read_event(envelope) is None


# --- the compatibility check itself -------------------------------------------------------------


def _registered_schema() -> dict[str, Any]:
    return message_schema(ENTRIES["participant.registered.v2"])


def _command_schema() -> dict[str, Any]:
    return message_schema(ENTRIES["record-programme-exit.v1"])


def test_identical_and_additive_changes_are_compatible() -> None:
    old = _registered_schema()
    assert breaking_changes(old, copy.deepcopy(old), is_command=False) == []
    added = copy.deepcopy(old)
    added["properties"]["new_optional"] = {"type": "string", "default": "x"}
    assert breaking_changes(old, added, is_command=False) == []
    command = _command_schema()
    wider = copy.deepcopy(command)
    wider["$defs"]["ExitReason"]["enum"].append("new-reason")
    assert breaking_changes(command, wider, is_command=True) == []  # the service reads more


def _deliberately_incompatible(schema: dict[str, Any], change: str) -> dict[str, Any]:
    new = copy.deepcopy(schema)
    if change == "new required field":
        new["properties"]["shoe_size"] = {"type": "integer"}
        new["required"].append("shoe_size")
    elif change == "field type changed":
        new["properties"]["age_at_entry"] = {"type": "string"}
    elif change == "enum value removed":
        new["$defs"]["Sex"]["enum"].remove("diverse")
    elif change == "enum value added to an event":
        new["$defs"]["Sex"]["enum"].append("unknown")
    elif change == "bound narrowed":
        new["properties"]["age_at_entry"]["maximum"] = 99
    elif change == "optional field made required":
        new["required"].append("languages")
    return new


@pytest.mark.parametrize(
    "change",
    [
        "new required field",
        "field type changed",
        "enum value removed",
        "enum value added to an event",
        "bound narrowed",
        "optional field made required",
    ],
)
def test_incompatible_changes_are_detected(change: str) -> None:
    old = _registered_schema()
    assert breaking_changes(old, _deliberately_incompatible(old, change), is_command=False)


def test_a_removed_command_field_breaks_providers_still_sending_it() -> None:
    old = _command_schema()
    new = copy.deepcopy(old)
    del new["properties"]["reason"]
    new["required"].remove("reason")
    assert breaking_changes(old, new, is_command=True)


def test_the_contract_test_fails_on_a_model_changed_without_a_new_version() -> None:
    class ParticipantExitedChanged(BaseModel):
        """The same type name, but `reason` became a free number: readers of v1 would break."""

        event_type: ClassVar[str] = "participant.exited.v1"
        example: ClassVar[dict[str, Any]] = {}
        participant_id: uuid.UUID
        provider: str
        exit_date: date
        reason: int

    changed = Entry(ParticipantExitedChanged, Kind.EVENT, "intake")  # type: ignore[arg-type]  # deliberately not a valid event model
    catalogue = tuple(changed if e.type == changed.type else e for e in CATALOGUE)
    problems = contract_problems(catalogue)
    assert len(problems) == 1
    assert "incompatible change" in problems[0]
    assert "participant.exited.v2" in problems[0]


# --- bounds -------------------------------------------------------------------------------------


def _string_bounded(schema: dict[str, Any], root: dict[str, Any]) -> bool:
    if "$ref" in schema:
        return _string_bounded(root["$defs"][schema["$ref"].rsplit("/", 1)[-1]], root)
    if "anyOf" in schema:
        return all(_string_bounded(s, root) for s in schema["anyOf"] if s.get("type") != "null")
    if schema.get("type") != "string":
        return True
    return any(k in schema for k in ("maxLength", "pattern", "enum", "const", "format"))


@pytest.mark.parametrize("type_", [t for t, e in ENTRIES.items() if e.kind is Kind.COMMAND])
def test_every_command_string_and_number_is_bounded(type_: str) -> None:
    schema = message_schema(ENTRIES[type_])
    definitions = [schema, *schema.get("$defs", {}).values()]
    for definition in definitions:
        for name, field in definition.get("properties", {}).items():
            assert _string_bounded(field, schema), f"{type_}.{name}: unbounded string"
            for candidate in field.get("anyOf", [field]):
                if candidate.get("type") == "integer":
                    assert "maximum" in candidate, f"{type_}.{name}: unbounded integer"
                if candidate.get("type") == "array":
                    assert "maxItems" in candidate, f"{type_}.{name}: unbounded list"


def _date_fields(model: type[BaseModel]) -> list[str]:
    return [
        name
        for name, info in model.model_fields.items()
        if info.annotation is date or date in get_args(info.annotation)
    ]


@pytest.mark.parametrize("type_", list(COMMANDS))
def test_every_command_date_lies_between_1950_and_2100(type_: str) -> None:
    model: type[Command] = COMMANDS[type_]
    for name in _date_fields(model):
        for outside in (date(EARLIEST_DATE.year - 1, 12, 31), date(LATEST_DATE.year + 1, 1, 1)):
            with pytest.raises(ValidationError) as caught:
                model.model_validate(model.example | {name: outside.isoformat()})
            assert any(error["loc"][0] == name for error in caught.value.errors())
