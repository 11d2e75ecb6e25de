"""The replay's bookkeeping against a fake transport: stages, pseudonyms, retries, pacing."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from durchstarten_simulator import scenario as scenario_file
from durchstarten_simulator.generate import NAMES_PARTICIPANT, generate
from durchstarten_simulator.runner import replay
from durchstarten_simulator.wire import Outgoing, Reply

HERFORD = Path(__file__).resolve().parents[1] / "scenarios" / "kreis-herford.toml"


class FakeServices:
    """Answers like the services: a pseudonym per new person, F2 refused on first try."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        self.sent: list[Outgoing] = []
        self.refused_once: set[str] = set()

    async def start(self) -> None:
        pass

    async def send(self, commands: list[Outgoing]) -> None:
        for command in commands:
            self.sent.append(command)
            self.replies[command.id] = self.answer(command)

    def answer(self, command: Outgoing) -> Reply:
        data = command.envelope["data"]
        type_ = command.envelope["type"]
        if type_ in NAMES_PARTICIPANT:
            assert uuid.UUID(data["participant_id"])
        if type_.startswith("register-participant"):
            if data.get("lives_in_state_reception_facility"):
                return Reply(command.id, False, reason="not-eligible")
            return Reply(command.id, True, status="registered", participant_id=str(uuid.uuid4()))
        first_try = data.get("participant_id") not in self.refused_once
        if type_ == "enrol.v1" and command.provider == "in-via" and first_try:
            self.refused_once.add(data["participant_id"])
            return Reply(command.id, False, reason="needs-work-or-training")
        return Reply(command.id, True)

    async def wait(self, ids: set[str], timeout_s: float) -> dict[str, Reply]:
        del timeout_s
        return {i: self.replies[i] for i in ids}

    async def stop(self) -> None:
        pass


async def test_a_replay_fills_in_pseudonyms_and_retries_what_a_provider_would() -> None:
    history = generate(scenario_file.load(HERFORD))
    services = FakeServices()
    result = await replay(history, services, retry_delay_s=0)
    f2 = sum(1 for c in history.commands if c.type == "enrol.v1" and c.provider == "in-via")
    assert result.retried == f2 > 0
    assert result.sent == len(history.commands) + f2
    assert dict(result.rejected) == {"not-eligible": 1}
    assert result.skipped == 0
    # The fake knows no exceptions and no duplicates: every registration but one counts.
    assert len(result.participants) == 122
    assert "given_name" not in str(result.summary())  # counts only, no identifiers


class ClockedServices(FakeServices):
    """The fake services, noting when each send arrives (time.monotonic())."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, list[Outgoing]]] = []

    async def send(self, commands: list[Outgoing]) -> None:
        self.arrivals.append((time.monotonic(), commands))
        await super().send(commands)


async def test_speed_paces_each_stage_by_the_calendar() -> None:
    history = generate(scenario_file.load(HERFORD))
    history.commands = [c for c in history.commands if c.type == "schedule-course.v1"]
    first = history.commands[0].day
    day_of = {c.key: (c.day - first).days for c in history.commands}  # one stage, two days
    speed = max(day_of.values()) / 0.5  # the stage's calendar in half a second
    services = ClockedServices()
    started = time.monotonic()
    await replay(history, services, speed=speed)
    sent = [(at, command.key) for at, same_day in services.arrivals for command in same_day]
    assert [key for _, key in sent] == [c.key for c in history.commands]  # in calendar order
    assert len(services.arrivals) == len(set(day_of.values()))  # one send per day
    # None leaves before its day is due (the event loop may wake a tick early). A busy
    # machine only sends later: an upper bound would time the machine, not the pacing.
    early = [key for at, key in sent if at - started < day_of[key] / speed - 0.001]
    assert early == []
