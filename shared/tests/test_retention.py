"""The deletion plan: every project topic has a rule, and the rules read as the broker's."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from durchstarten.events.topics import project_topics, topic_kind
from durchstarten.retention import DEFAULT_PLAN, load_plan, period, plan_markdown
from durchstarten.settings import HoldingSettings, ServiceSettings

REPO = Path(__file__).resolve().parents[2]

WEEK_MS = 7 * 24 * 3600 * 1000


def test_every_topic_of_the_project_has_a_rule_by_its_kind() -> None:
    plan = load_plan()
    kinds = {topic: topic_kind(topic) for topic in project_topics(["a-provider"])}
    assert kinds == {
        "intake.events": "domain_events",
        "coaching.events": "domain_events",
        "courses.events": "domain_events",
        "intake.events.dlq": "domain_dead_letters",
        "coaching.events.dlq": "domain_dead_letters",
        "courses.events.dlq": "domain_dead_letters",
        **{f"inbound.a-provider.{s}": "inbound" for s in ("intake", "coaching", "courses")},
        **{
            f"inbound.a-provider.{s}.dlq": "inbound_dead_letters"
            for s in ("intake", "coaching", "courses")
        },
        **{f"outbound.a-provider.{s}": "outbound" for s in ("intake", "coaching", "courses")},
    }
    for topic in kinds:
        assert plan.topic_configs(topic)["cleanup.policy"] == "delete"


def test_raw_commands_and_their_dead_letters_leave_kafka_within_a_week() -> None:
    plan = load_plan()
    for topic in ("inbound.p.intake", "inbound.p.intake.dlq"):
        configs = plan.topic_configs(topic)
        assert 0 < int(configs["retention.ms"]) <= WEEK_MS
        # Kafka deletes closed segments only: a segment must close well within the period.
        assert 0 < int(configs["segment.ms"]) < int(configs["retention.ms"])


def test_domain_events_are_kept_for_rebuilds() -> None:
    assert load_plan().topic_configs("intake.events")["retention.ms"] == "-1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12h", timedelta(hours=12)), ("7d", timedelta(days=7)), ("10y", timedelta(days=3650))],
)
def test_periods_read_as_durations(text: str, expected: timedelta) -> None:
    assert period(text) == expected


@pytest.mark.parametrize("text", ["", "7", "0d", "-1d", "7 d", "1w", "5m", "never"])
def test_a_malformed_period_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="a period is"):
        period(text)


def test_a_plan_with_a_bad_period_or_a_missing_kind_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_PLAN.read_text(encoding="utf-8")
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace('retention = "30d"', 'retention = "30 days"'))
    with pytest.raises(ValidationError, match="a period is"):
        load_plan(broken)
    start = text.index("[topics.outbound]")
    end = text.index("[topics.domain_events]")
    missing = tmp_path / "missing.toml"
    missing.write_text(text[:start] + text[end:])
    with pytest.raises(ValidationError, match="outbound"):
        load_plan(missing)


@pytest.mark.parametrize("topic", ["orders", "inbound.p", "outbound.p.intake.dlq", "x.y.z.w"])
def test_a_topic_outside_the_project_has_no_rule(topic: str) -> None:
    with pytest.raises(ValueError, match="no rule"):
        load_plan().topic_configs(topic)


def test_the_documented_plan_is_the_shipped_plan() -> None:
    page = (REPO / "docs" / "data-protection.md").read_text(encoding="utf-8")
    start, end = "<!-- deletion-plan:start -->\n", "<!-- deletion-plan:end -->"
    documented = page[page.index(start) + len(start) : page.index(end)]
    assert documented == plan_markdown(load_plan()), "regenerate: durchstarten_deploy deletion-plan"


def test_a_setting_that_keeps_data_longer_than_the_plan_stops_the_service() -> None:
    with pytest.raises(ValidationError, match="DURCHSTARTEN_OUTBOX_RETENTION_HOURS keeps data"):
        ServiceSettings(database_url=SecretStr("postgresql://x"), outbox_retention_hours=24 * 8)
    with pytest.raises(ValidationError, match="DURCHSTARTEN_HOLD_UNKNOWN_S keeps data"):
        HoldingSettings(database_url=SecretStr("postgresql://x"), hold_unknown_s=2 * 3600)
    within = HoldingSettings(
        database_url=SecretStr("postgresql://x"), outbox_retention_hours=24 * 7, hold_unknown_s=3600
    )
    assert within.hold_unknown_s == 3600


def test_a_countys_own_plan_bounds_the_settings_too(tmp_path: Path) -> None:
    text = DEFAULT_PLAN.read_text(encoding="utf-8")
    own = tmp_path / "plan.toml"
    own.write_text(text.replace('period = "7d"', 'period = "2d"'), encoding="utf-8")
    with pytest.raises(ValidationError, match=r"longer than the deletion plan's 2d"):
        ServiceSettings(database_url=SecretStr("postgresql://x"), deletion_plan=own)
    shorter = ServiceSettings(
        database_url=SecretStr("postgresql://x"), deletion_plan=own, outbox_retention_hours=48
    )
    assert shorter.deletion_plan_rules().stores.outbox_sent.period == "2d"
