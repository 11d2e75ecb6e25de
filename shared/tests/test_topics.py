import pytest

from durchstarten.events import topics


def test_topic_names_follow_the_design() -> None:
    assert topics.inbound("diakonie-herford", "intake") == "inbound.diakonie-herford.intake"
    assert topics.outbound("awo-owl", "courses") == "outbound.awo-owl.courses"
    assert topics.dead_letters("intake.events") == "intake.events.dlq"
    assert topics.domain_events("coaching") == "coaching.events"


def test_provider_identity_comes_from_the_inbound_topic() -> None:
    assert topics.provider_of_inbound("inbound.in-via.coaching") == "in-via"
    with pytest.raises(ValueError, match="not an inbound topic"):
        topics.provider_of_inbound("outbound.in-via.coaching")


@pytest.mark.parametrize("bad", ["", "Diakonie", "a.b", "-x", "x-", "x_y", "a" * 70])
def test_provider_ids_must_be_safe_topic_segments(bad: str) -> None:
    with pytest.raises(ValueError, match="lower-case slug"):
        topics.validate_provider_id(bad)


def test_project_topics_cover_every_channel_and_dead_letters_once() -> None:
    names = topics.project_topics(["p1"])
    assert len(names) == len(set(names))
    assert "inbound.p1.intake.dlq" in names
    assert "intake.events.dlq" in names
    assert not any(name.startswith("outbound.") and name.endswith(".dlq") for name in names)
    assert {"intake.events", "coaching.events", "courses.events"} <= set(names)
