"""The processing register (Art. 30): complete for the contract, and its docs generated."""

from __future__ import annotations

from pathlib import Path

import pytest

from durchstarten.events.topics import domain_events
from durchstarten.messaging.access import LEARNS_FROM
from durchstarten.processing_register import (
    DEFAULT_REGISTER,
    fields_of,
    load_register,
    recipients,
    register_markdown,
    uncategorised,
)
from durchstarten.retention import load_plan

REPO = Path(__file__).resolve().parents[2]


def test_every_field_of_the_contract_is_in_exactly_one_category() -> None:
    register = load_register()
    assert uncategorised(register) == set()
    listed = [name for names in register.categories.values() for name in names]
    assert len(listed) == len(set(listed))  # no field in two categories
    assert set(register.categories) == set(register.category_names)


def test_a_new_contract_field_without_a_category_is_found(tmp_path: Path) -> None:
    text = DEFAULT_REGISTER.read_text(encoding="utf-8").replace('"email", ', "", 1)
    path = tmp_path / "register.toml"
    path.write_text(text, encoding="utf-8")
    assert uncategorised(load_register(path)) == {"email"}


def test_only_intake_processes_direct_identifiers() -> None:
    register = load_register()
    identifiers = set(register.categories["direct_identifiers"])
    for activity in register.activities:
        used = fields_of(activity.service) & identifiers
        assert bool(used) == (activity.service == "intake"), activity.service


def test_recipients_follow_the_kafka_access_declaration() -> None:
    for service in ("intake", "coaching", "courses"):
        readers = [s for s, topics in LEARNS_FROM.items() if domain_events(service) in topics]
        text = " ".join(recipients(service))
        assert readers  # someone reads every write service's events ...
        assert all(reader in text for reader in readers), service  # ... and is named


def test_a_store_the_plan_does_not_have_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_REGISTER.read_text(encoding="utf-8").replace('"vault", ', '"attic", ', 1)
    path = tmp_path / "register.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="attic"):
        register_markdown(load_register(path), load_plan())


def test_the_documented_register_is_generated_from_the_configuration() -> None:
    page = (REPO / "docs" / "data-protection.md").read_text(encoding="utf-8")
    start, end = "<!-- processing-register:start -->\n", "<!-- processing-register:end -->"
    documented = page[page.index(start) + len(start) : page.index(end)]
    expected = register_markdown(load_register(), load_plan())
    assert documented == expected, "regenerate: durchstarten_deploy processing-register"
