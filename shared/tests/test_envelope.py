import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from durchstarten.events import CloudEvent, ParticipantRegistered, new_event


def registered() -> ParticipantRegistered:
    return ParticipantRegistered.model_validate(ParticipantRegistered.example)


def test_envelope_round_trips_as_structured_cloudevents_json() -> None:
    event = new_event(
        source="/services/intake",
        type_=ParticipantRegistered.event_type,
        data=registered(),
        subject="6f1c1a52-8d1b-4a8e-9a55-0f1d64c3c0de",
        correlationid="c-1",
    )
    wire = json.loads(event.to_json())
    assert wire["specversion"] == "1.0"
    assert wire["type"] == "participant.registered.v3"
    assert wire["datacontenttype"] == "application/json"
    assert wire["correlationid"] == "c-1"
    assert "causationid" not in wire  # None attributes are left out, as CloudEvents wants
    back = CloudEvent.from_json(event.to_json())
    assert back == event
    assert ParticipantRegistered.model_validate(back.data) == registered()


def test_events_are_read_tolerantly() -> None:
    data = registered().model_dump(mode="json") | {"added_in_a_later_minor": 1}
    assert ParticipantRegistered.model_validate(data).age_at_entry == 20


def test_envelope_needs_an_aware_time_and_a_versioned_type() -> None:
    base = {"id": "1", "source": "/s", "type": "a.b.v1", "time": datetime.now(UTC), "data": {}}
    CloudEvent.model_validate(base)
    with pytest.raises(ValidationError):
        CloudEvent.model_validate(base | {"time": datetime(2022, 1, 1)})
    with pytest.raises(ValidationError):
        CloudEvent.model_validate(base | {"type": "a.b"})


def test_event_carries_no_direct_identifiers() -> None:
    fields = set(ParticipantRegistered.model_fields)
    assert not fields & {"given_name", "family_name", "birth_date", "provider_reference"}
