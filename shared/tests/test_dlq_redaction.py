import json

from durchstarten.events import RegisterParticipant
from durchstarten.messaging.dlq import REDACTED, redact_except

redact = redact_except(RegisterParticipant.non_identifying_fields or frozenset())


def test_identifiers_and_unknown_fields_are_redacted_coarse_fields_kept() -> None:
    raw = json.dumps(
        {
            "id": "c-1",
            "type": "register-participant.v1",
            "data": {
                "given_name": "Amina",
                "birth_date": "2001-05-04",
                "phone": "+49 5221 0000",
                "municipality": "herford",
            },
        }
    ).encode()
    body = json.loads(redact(raw))
    assert body["id"] == "c-1"
    assert body["data"] == {
        "given_name": REDACTED,
        "birth_date": REDACTED,
        "phone": REDACTED,
        "municipality": "herford",
    }


def test_values_that_cannot_be_inspected_are_dropped() -> None:
    assert redact(b"Amina Haddad, 04.05.2001") == b""
    assert redact(b'["Amina"]') == b""
    assert json.loads(redact(b'{"id": "x", "data": "Amina"}'))["data"] == REDACTED


def test_only_descriptive_envelope_attributes_survive() -> None:
    raw = json.dumps(
        {
            "id": "c-2",
            "type": "register-participant.v2",
            "subject": "Amina Haddad",
            "given_name": "Amina",
            "comment": {"nested": "Haddad"},
            "id2": "x",
            "source": "/providers/p\u0000",
        }
    ).encode()
    body = json.loads(redact(raw))
    assert body == {"id": "c-2", "type": "register-participant.v2"}
