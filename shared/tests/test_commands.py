"""The edge: strict parsing with errors that name the field and rule, never the input."""

import json
import uuid
from typing import Any

import pytest

from durchstarten.events import RegisterParticipant
from durchstarten.messaging.commands import command_id_of, parse_command
from durchstarten.messaging.errors import PermanentError

ACCEPTED = frozenset(
    {RegisterParticipant.command_type, "register-participant.v2", "register-participant.v1"}
)
SECRET_NAME = "Zarathustra-Unique"


def command(**data_changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "provider_reference": "R-1",
        "given_name": SECRET_NAME,
        "family_name": "Haddad",
        "birth_date": "2001-05-04",
        "sex": "female",
        "country_of_origin": "SYR",
        "residence_status": "duldung",
        "municipality": "herford",
        "german_level": "A2",
        "entry_date": "2022-03-01",
    }
    data.update(data_changes)
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/providers/p",
        "type": "register-participant.v1",
        "time": "2022-03-01T10:00:00Z",
        "data": data,
    }


def parse(body: dict[str, Any] | bytes) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_command(raw, provider="p", accepted=ACCEPTED)


def test_a_valid_command_parses_with_the_provider_from_the_caller() -> None:
    body = command()
    parsed = parse(body)
    assert parsed.provider == "p"
    assert isinstance(parsed.command, RegisterParticipant)
    assert parsed.dedupe_key == f"p:{body['id']}"


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        (b"{not json", "malformed-json", None),
        (b"[1, 2]", "invalid-field", None),
        ({**command(), "type": "launch-rocket.v1"}, "unknown-type", "type"),
        ({**command(), "time": "2022-03-01T10:00:00"}, "invalid-field", "time"),
        ({**command(), "specversion": "0.3"}, "invalid-field", "specversion"),
        (command(nickname="x"), "unknown-field", "data.nickname"),
        (command(birth_date="04.05.2001"), "invalid-field", "data.birth_date"),
        (command(municipality="bielefeld"), "invalid-field", "data.municipality"),
        (command(country_of_origin="Syria"), "invalid-field", "data.country_of_origin"),
        ({k: v for k, v in command().items() if k != "id"}, "missing-field", "id"),
    ],
)
def test_bad_input_is_a_permanent_error_naming_field_and_rule(
    body: dict[str, Any] | bytes, reason: str, field: str | None
) -> None:
    with pytest.raises(PermanentError) as caught:
        parse(body)
    assert caught.value.reason == reason
    if field is not None:
        assert caught.value.field == field
    assert caught.value.message_de
    assert caught.value.message_en


def test_error_messages_never_quote_the_input() -> None:
    bad = command(given_name="", family_name=SECRET_NAME * 30)
    with pytest.raises(PermanentError) as caught:
        parse(bad)
    text = f"{caught.value} {caught.value.message_en} {caught.value.message_de}"
    assert SECRET_NAME not in text


def test_command_id_is_recovered_best_effort() -> None:
    body = command()
    assert command_id_of(json.dumps(body).encode()) == (body["id"], body["type"])
    assert command_id_of(b"\xff\xfe") == (None, None)
    assert command_id_of(b'{"id": 5}') == (None, None)


def test_identifier_validation_messages_are_not_repeated() -> None:
    bad_email = {**command(), "type": "register-participant.v3"}
    bad_email["data"] = RegisterParticipant.example | {"email": "amina@hadd\u0640ad.de"}
    with pytest.raises(PermanentError) as caught:
        parse(bad_email)
    assert caught.value.field == "data.email"
    assert "hadd" not in f"{caught.value} {caught.value.message_en} {caught.value.message_de}"


@pytest.mark.parametrize(
    ("name", "key"), [("herford", "05758012"), ("buende", "05758004"), ("vlotho", "05758036")]
)
def test_a_herford_registration_of_the_previous_version_becomes_the_current_one(
    name: str, key: str
) -> None:
    """Herford's providers still sending v2 (names) keep working: the name becomes its key."""
    old = {**command(), "type": "register-participant.v2"}
    old["data"] = RegisterParticipant.example | {"municipality": name}
    parsed = parse(old)
    assert type(parsed.command) is RegisterParticipant
    assert parsed.command.municipality == key


def test_a_municipality_name_is_no_key_in_the_current_version() -> None:
    current = {**command(), "type": RegisterParticipant.command_type}
    current["data"] = RegisterParticipant.example | {"municipality": "herford"}
    with pytest.raises(PermanentError) as caught:
        parse(current)
    assert caught.value.field == "data.municipality"


def test_a_v1_registration_goes_through_both_upcasters() -> None:
    parsed = parse(command(municipality="loehne"))
    assert parsed.command.municipality == "05758024"
