"""The benchmark's smoke run: every stage runs on a stack of its own and writes its files.

It measures nothing worth keeping (a few seconds per stage) and asserts no speed: it proves
that `make bench` still works end to end and that every figure it reports is there and
consistent with the others.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_the_benchmark_smoke_run_reports_every_figure(tmp_path: Path) -> None:
    page, data = tmp_path / "BENCHMARKS.md", tmp_path / "benchmarks.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "durchstarten_bench",
            "--smoke",
            f"--out={page}",
            f"--json={data}",
            f"--state-dir={tmp_path / 'state'}",
        ],
        capture_output=True,
        text=True,
        timeout=1200,  # bounds how long a hung run takes to fail, not how fast it is
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(data.read_text())

    limits = figures["limits"]
    assert limits["kafka_produce_aiokafka"]["messages"] == figures["config"]["raw_messages"]
    assert limits["kafka_consume_aiokafka"]["messages"] >= figures["config"]["raw_messages"]
    assert limits["kafka_producer_perf_tool"]["messages"] == figures["config"]["raw_messages"]
    assert limits["postgres_copy"]["rows"] == figures["config"]["copy_rows"]

    ingest = figures["ingest"]
    assert ingest["commands"] == figures["config"]["ingest_commands"]
    assert sum(ingest["commands_by_service"].values()) == ingest["commands"]
    assert ingest["events_projected"] >= ingest["commands"]  # every command makes an event
    assert set(ingest["cpu_seconds"]) >= {"intake", "coaching", "courses", "reporting", "kafka"}

    for lag in figures["lag"]:
        sent = lag["target_commands_per_s"] * lag["seconds"]
        assert lag["lag"]["count"] >= sent  # an event measured for every command sent
        assert 0 < lag["lag"]["p50_ms"] <= lag["lag"]["p99_ms"] <= lag["lag"]["max_ms"]
        assert lag["measured_to"].startswith("projection commit")

    rebuild = figures["rebuild"]
    assert rebuild["live_catch_up"]["events"] == rebuild["synthetic_events"]
    assert rebuild["rebuild"]["events_applied"] == rebuild["rebuild"]["events_in_topics"]

    year = figures["release_year"]
    assert year["count"] == figures["config"]["afresh_times"]
    assert year["events"] == year["people"] * 17  # whole histories, every one projected
    assert year["release"]["first_year"] == year["year"]  # the family starts with the data
    assert 0 < year["release_s_p50"] * 1000 <= year["p50_ms"]

    queries = figures["queries"]
    assert queries["ok"] == queries["requests"], queries["statuses"]
    assert queries["events_in_projection"] >= rebuild["rebuild"]["events_in_topics"]
    afresh = queries["computed_afresh"]
    assert afresh["count"] == figures["config"]["afresh_history_times"]
    # The family starts with the data: the histories', or the earlier stages' commands.
    first_year = afresh["release"]["first_year"]
    assert first_year <= date.fromisoformat(figures["config"]["history_first_entry"]).year
    # Every report of every period and scope is in the release (4 reports, the family's
    # quarters or years, the county and each provider), protected together.
    years = datetime.now(UTC).year - first_year + 1
    assert afresh["release"]["reports"] >= (4 * years + 4 * years + years + years) * 2
    assert 0 < afresh["release_s_p50"] * 1000 <= afresh["p50_ms"]

    # The 53-county load: every county's reports and the state tables of every quarter of
    # the family in one release, the state table served with a row per county.
    state = figures["statewide"]
    assert (state["counties"], state["state_table_rows"]) == (53, 53)
    assert state["events"] == state["people"] * 17
    state_years = datetime.now(UTC).year - state["release"]["first_year"] + 1
    assert state["release"]["state_reports"] == 4 * state_years
    assert state["release"]["reports"] > 53 * 4 * state_years
    assert 0 < state["release_s_p50"] * 1000 <= state["afresh"]["p50_ms"]
    assert state["served"]["count"] == figures["config"]["statewide_requests"]
    assert state["database_bytes"] > 0
    assert "State table over the 53-county load" in page.read_text()

    # The production layout: the table served by the API instances, not the projector.
    assert queries["api_instances"] == figures["config"]["api_instances"] == 2
    assert queries["warm_up_statuses"] == [200, 200]  # each instance had its release

    registrations = figures["registrations"]
    # Every registration answered and accepted (each provider in its own counties),
    # besides one course scheduled per provider.
    assert registrations["commands_answered"] > registrations["registrations"]
    assert registrations["accepted"] == registrations["registrations"]
    assert sum(registrations["outcomes"].values()) == registrations["commands_answered"]
    assert registrations["registrations_per_s"] > 0

    # The same commands through our write path and the eventsourcing peer, every one
    # accepted (a refusal raises), with the server's production durability.
    write_path = figures["write_path"]
    commands = write_path["cases"] * (1 + write_path["sessions_per_case"])
    for side in ("ours", "peer"):
        for mode in ("one_by_one", "batched"):
            assert write_path[side][mode]["commands"] == commands, (side, mode)
    assert write_path["durability"] == {"synchronous_commit": "on", "fsync": "on"}
    assert figures["settings"]["postgres"]["fsync"] == "on"

    profiles = figures["profile"]["services"]
    assert figures["profile"]["failures"] == []
    assert set(profiles) == {"intake", "coaching", "courses", "reporting"}
    assert all(profile["samples"] > 0 for profile in profiles.values())

    text = page.read_text()
    assert "## Targets" in text
    assert text.count("| yes |") + text.count("| **no** |") == 7
    assert "eventsourcing" in text
    assert figures["machine"]["cores"] >= 1
    assert figures["versions"]["Kafka"]
