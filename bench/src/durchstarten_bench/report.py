"""docs/BENCHMARKS.md from the figures: one table, each figure beside its limit and target.

The hand-written analysis between the markers ANALYSIS_START and ANALYSIS_END survives a
regeneration: what limits a figure is a judgement, not a measurement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ANALYSIS_START = "<!-- analysis:start -->"
ANALYSIS_END = "<!-- analysis:end -->"
_NO_ANALYSIS = f"{ANALYSIS_START}\n(No analysis written yet.)\n{ANALYSIS_END}"


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text} {unit}".strip()


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the figure it is judged on and whether it is met."""
    ingest = figures["ingest"]
    lag = figures["lag"][0]
    rebuild = figures["rebuild"]["rebuild"]
    queries = figures["queries"]
    year = figures["release_year"]
    share = figures["ratios"]["ingest_events_vs_raw_consume"] or 0.0
    registrations = figures["registrations"]
    write_path = figures["write_path"]
    ours, peer = write_path["ours"], write_path["peer"]
    return [
        {
            "target": "sustained ingest >= 10,000 events/s and >= 5 % of raw consume",
            "value": f"{_number(ingest['events_per_s'])} events/s ({share:.1%})",
            "met": ingest["events_per_s"] >= 10_000 and share >= 0.05,
        },
        {
            "target": "registrations with duplicate matching >= 2,000/s",
            "value": f"{_number(registrations['registrations_per_s'])} registrations/s",
            "met": registrations["registrations_per_s"] >= 2000,
        },
        {
            "target": "p99 lag <= 100 ms at 2,000 commands/s",
            "value": f"{_number(lag['lag']['p99_ms'], 'ms')} at "
            f"{_number(lag['achieved_commands_per_s'])} commands/s",
            "met": lag["lag"]["p99_ms"] <= 100 and lag["achieved_commands_per_s"] >= 2000 * 0.98,
        },
        {
            "target": "rebuild >= 30,000 events/s",
            "value": f"{_number(rebuild['events_per_s'])} events/s",
            "met": rebuild["events_per_s"] >= 30_000,
        },
        {
            "target": "quarterly table over a year of history computed afresh: p50 < 1 s",
            "value": f"{_number(year['p50_ms'], 'ms')} (release "
            f"{_number(year['release_s_p50'] * 1000, 'ms')})",
            "met": year["p50_ms"] < 1000,
        },
        {
            "target": "quarterly table p99 <= 20 ms at 500 requests/s during ingest",
            "value": f"{_number(queries['p99_ms'], 'ms')} at "
            f"{_number(queries['achieved_per_s'])} requests/s",
            "met": queries["p99_ms"] <= 20 and queries["achieved_per_s"] >= 500 * 0.98,
        },
        {
            "target": "write path at least as fast per command as the eventsourcing peer "
            "(each in its own mode: one by one, batched)",
            "value": f"{_number(ours['one_by_one']['commands_per_s'])} vs "
            f"{_number(peer['one_by_one']['commands_per_s'])} one by one, "
            f"{_number(ours['batched']['commands_per_s'])} vs "
            f"{_number(peer['batched']['commands_per_s'])} commands/s batched",
            "met": all(
                ours[mode]["commands_per_s"] >= peer[mode]["commands_per_s"]
                for mode in ("one_by_one", "batched")
            ),
        },
    ]


def render(figures: dict[str, Any], *, analysis: str = _NO_ANALYSIS) -> str:
    """The whole Markdown page."""
    limits = figures["limits"]
    ingest = figures["ingest"]
    rebuild = figures["rebuild"]
    queries = figures["queries"]
    r = figures["ratios"]
    consume = limits["kafka_consume_aiokafka"]["messages_per_s"]
    produce = limits["kafka_produce_aiokafka"]["messages_per_s"]
    copy = limits["postgres_copy"]["rows_per_s"]
    tool = limits["kafka_producer_perf_tool"]
    machine = figures["machine"]
    year = figures["release_year"]
    lines = [
        "# Benchmarks",
        "",
        f"Made by `make bench` ({figures['config']['name']} run) on {figures['generated_at']}; "
        "every figure comes from the same run on the same machine, with Kafka, PostgreSQL, "
        "the four services and the load generator sharing it. "
        "All figures, the settings and the versions are in "
        f"`{figures['json_name']}`.",
        "",
        f"Machine: {machine['cores']} cores ({machine['cpu']}), "
        f"{machine['memory_gib']} GiB, Linux {machine['kernel']}. "
        + ", ".join(f"{name} {version}" for name, version in figures["versions"].items())
        + ".",
        "",
        "## Figures",
        "",
        "| Figure | Measured | Limit in the same run | Ratio |",
        "|---|---|---|---|",
        f"| Kafka produce, aiokafka, {limits['kafka_produce_aiokafka']['message_bytes']} B "
        "messages, acks=all, idempotent | "
        f"{_number(limits['kafka_produce_aiokafka']['messages_per_s'], 'msg/s')} | (limit) | |",
        f"| Kafka consume, aiokafka, no processing | {_number(consume, 'msg/s')} | (limit) | |",
        "| Kafka's ProducerPerformance (kafka-tools), same size and settings | "
        f"{_number(tool.get('messages_per_s'), 'msg/s')} | (limit) | |",
        "| PostgreSQL: asyncpg COPY into a participants-shaped table | "
        f"{_number(limits['postgres_copy']['rows_per_s'], 'rows/s')} | (limit) | |",
        "| Sustained ingest: commands through the write services | "
        f"{_number(ingest['commands_per_s'], 'commands/s')} | "
        f"{_number(produce, 'msg/s')} (produce) | {_ratio(r['ingest_commands_vs_raw_produce'])} |",
        "| Sustained ingest: domain events into the projections | "
        f"{_number(ingest['events_per_s'], 'events/s')} | {_number(consume, 'msg/s')} "
        f"| {_ratio(r['ingest_events_vs_raw_consume'])} |",
    ]
    for lag in figures["lag"]:
        lines.append(
            f"| End-to-end lag at {_number(lag['achieved_commands_per_s'])} commands/s "
            f"(open loop), p50 / p99 | {_number(lag['lag']['p50_ms'], 'ms')} / "
            f"{_number(lag['lag']['p99_ms'], 'ms')} | | |"
        )
    registrations = figures["registrations"]
    lines.append(
        f"| Registrations with duplicate matching ({_number(registrations['registrations'])} "
        "sent at once through intake, first send to last reply) | "
        f"{_number(registrations['registrations_per_s'], 'registrations/s')} "
        f"({_number(registrations['intake_cpu_us_per_registration'])} µs of intake's CPU "
        f"each) | {_number(produce, 'msg/s')} (produce) | "
        f"{_ratio(r['registrations_vs_raw_produce'])} |"
    )
    lines += _write_path_rows(figures["write_path"], copy, r)
    lines += [
        f"| Quarterly table over one year of history ({year['year']}: "
        f"{_number(year['people'])} people, {_number(year['events'])} events; release family "
        f"{year['release'].get('first_year', '?')} to today), computed afresh "
        "(a new release, then the table; no other load), p50 | "
        f"{_number(year['p50_ms'], 'ms')} | | |",
        f"| Of which the release ({_release_size(year)}), p50 | "
        f"{_number(year['release_s_p50'] * 1000, 'ms')} | | |",
        "| Live projection catching up with synthetic histories | "
        f"{_number(rebuild['live_catch_up']['events_per_s'], 'events/s')} | "
        f"{_number(consume, 'msg/s')} | {_ratio(r['live_catch_up_vs_raw_consume'])} |",
        "| Rebuild into a new projection version "
        f"({_number(rebuild['rebuild']['events_in_topics'])} events) | "
        f"{_number(rebuild['rebuild']['events_per_s'], 'events/s')} | "
        f"{_number(consume, 'msg/s')} | {_ratio(r['rebuild_vs_raw_consume'])} |",
        f"| Quarterly table during ingest ({_number(queries['events_in_projection'])} events "
        f"projected; {queries.get('api_instances', 1)} API instances apart from the "
        f"projector), p50 / p99 | {_number(queries['p50_ms'], 'ms')} / "
        f"{_number(queries['p99_ms'], 'ms')} at {_number(queries['achieved_per_s'])} "
        "requests/s | | |",
        f"| Quarterly table computed afresh (a new protected release of every report, "
        f"then the table; no other load), p50 | "
        f"{_number(queries['computed_afresh']['p50_ms'], 'ms')} | | |",
        f"| Of which the release (every report of every period and scope, one pattern "
        f"over all of them: {_release_size(queries['computed_afresh'])}), p50 | "
        f"{_number(queries['computed_afresh'].get('release_s_p50', 0) * 1000, 'ms')} | | |",
    ]
    state = figures.get("statewide")
    if state is not None:
        lines += [
            f"| State table over the {state['counties']}-county load ({_number(state['people'])} "
            f"people in {state['municipalities']} municipalities, {state['providers']} providers, "
            f"{_number(state['events'])} events), computed afresh (a new release of every "
            "county's reports and the state tables, one pattern; then the table), p50 | "
            f"{_number(state['afresh']['p50_ms'], 'ms')} | | |",
            f"| Of which the release ({_number(state['release']['reports'])} reports, "
            f"{_number(state['release']['withheld'])} cells withheld), p50 | "
            f"{_number(state['release_s_p50'] * 1000, 'ms')} | | |",
            "| State table served from the release (the ministry's request), p50 / p99 | "
            f"{_number(state['served']['p50_ms'], 'ms')} / "
            f"{_number(state['served']['p99_ms'], 'ms')} | | |",
        ]
    lines += [
        "",
        "## Targets",
        "",
        "| Target | Reached | Met |",
        "|---|---|---|",
    ]
    lines += [f"| {t['target']} | {t['value']} | {_met(t['met'])} |" for t in targets(figures)]
    lines += [
        "",
        "## CPU per message (sustained ingest)",
        "",
        "| Process | CPU seconds | CPU µs per message |",
        "|---|---|---|",
    ]
    for name, seconds in ingest["cpu_seconds"].items():
        lines.append(f"| {name} | {seconds} | {_number(ingest['cpu_us_per_message'][name])} |")
    lines += ["", ingest["cpu_us_per_message_note"] + ".", "", "## Hottest functions", ""]
    for name, profile in figures["profile"]["services"].items():
        top = ", ".join(
            f"`{entry['function']}` {entry['share']:.0%}" for entry in profile["self"][:6]
        )
        lines.append(f"- {name} ({profile['samples']} samples, self time): {top}")
    lines += ["", "## What limits it", "", analysis, ""]
    return "\n".join(lines)


def _write_path_rows(
    write_path: dict[str, Any], copy: float, ratios: dict[str, float | None]
) -> list[str]:
    """Our write path and the eventsourcing peer's, each mode beside the other."""
    ours, peer = write_path["ours"], write_path["peer"]
    work = (
        f"{_number(write_path['cases'])} cases opened, {write_path['sessions_per_case']} "
        "sessions recorded in each; in process, no Kafka"
    )
    batch = f"batches of {write_path['batch_size']}"
    durability = ", ".join(f"{k}={v}" for k, v in write_path["durability"].items())
    peer_ratio = write_path["ratio_ours_to_peer"]
    return [
        f"| Write path, coaching's command side, one command per transaction ({work}; "
        f"{durability}) | {_number(ours['one_by_one']['commands_per_s'], 'commands/s')} | "
        f"{_number(peer['one_by_one']['commands_per_s'], 'commands/s')} (peer) | "
        f"{peer_ratio['one_by_one']:.2f}x the peer |",
        f"| Write path, coaching's command side, {batch} per transaction | "
        f"{_number(ours['batched']['commands_per_s'], 'commands/s')} | "
        f"{_number(peer['batched']['commands_per_s'], 'commands/s')} (peer) | "
        f"{peer_ratio['batched']:.2f}x the peer |",
        "| Peer: the same commands through `eventsourcing` (PostgreSQL store), one `save` "
        f"per command / one per batch | {_number(peer['one_by_one']['commands_per_s'])} / "
        f"{_number(peer['batched']['commands_per_s'], 'commands/s')} | "
        f"{_number(copy, 'rows/s')} (COPY) | {_ratio(ratios['peer_batched_vs_postgres_copy'])} |",
        f"| Our batched write path beside COPY | "
        f"{_number(ours['batched']['commands_per_s'], 'commands/s')} | "
        f"{_number(copy, 'rows/s')} (COPY) | "
        f"{_ratio(ratios['write_path_batched_vs_postgres_copy'])} |",
    ]


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def kept_analysis(path: Path) -> str:
    """The analysis section of an existing page, markers included (a placeholder if none)."""
    if not path.exists():
        return _NO_ANALYSIS
    text = path.read_text(encoding="utf-8")
    start, end = text.find(ANALYSIS_START), text.find(ANALYSIS_END)
    if start < 0 or end < start:
        return _NO_ANALYSIS
    return text[start : end + len(ANALYSIS_END)]


def _release_size(afresh: dict[str, Any]) -> str:
    release = afresh.get("release", {})
    return (
        f"{release.get('reports', '?')} reports, {release.get('primary', '?')} small counts "
        f"and {release.get('secondary', '?')} cells withheld to protect them"
    )
