"""The fault suite's checker finds what it claims to find (no stack needed)."""

from __future__ import annotations

from typing import Any

from tests.faults.history import judge

from durchstarten_simulator.wire import Outgoing


def command(number: int) -> Outgoing:
    return Outgoing("p", "coaching", "k", {"id": f"c{number}", "type": "record-session.v1"})


def reply(number: int, *, reply_id: str, accepted: bool = True, repeat: bool = False) -> Any:
    kind = "command.accepted.v1" if accepted else "command.rejected.v1"
    return {"id": reply_id, "type": kind, "data": {"command_id": f"c{number}", "repeat": repeat}}


def event(number: int, event_id: str, type_: str = "session.recorded.v1") -> Any:
    return {"id": event_id, "type": type_, "causationid": f"c{number}", "data": {}}


def test_each_kind_of_failure_is_counted_and_a_healthy_command_is_not() -> None:
    sent = {c.id: c for c in map(command, range(6))}
    replies = [
        reply(0, reply_id="r0"),
        reply(0, reply_id="r0"),  # a relay's re-send: the same message
        reply(0, reply_id="r0b", repeat=True),  # the answer to a copy sent again
        reply(1, reply_id="r1"),  # accepted, but nothing happened: lost
        reply(2, reply_id="r2"),  # carried out twice
        reply(3, reply_id="r3a"),
        reply(3, reply_id="r3b"),  # answered twice
        reply(4, reply_id="r4", accepted=False),  # rejected: not acked, nothing expected
        # 5: never answered
    ]
    events = [
        event(0, "e0"),
        event(0, "e0"),  # re-sent by the relay: same id, not a double
        event(2, "e2a"),
        event(2, "e2b"),
        event(3, "e3"),
    ]
    verdict = judge(sent, replies, events)
    assert (verdict.acked, verdict.repeated) == (4, {"c0"})
    assert verdict.lost == ["c1"]
    assert verdict.double == ["c2"]
    assert verdict.replies_doubled == ["c3"]
    assert verdict.replies_missing == ["c5"]
    assert not verdict.ok
    assert verdict.line().startswith("acked 4, lost 1, double 1, replies missing 1")


def test_a_clean_history_is_ok() -> None:
    sent = {c.id: c for c in map(command, range(2))}
    replies = [reply(0, reply_id="r0"), reply(1, reply_id="r1")]
    events = [event(0, "e0"), event(1, "e1")]
    assert judge(sent, replies, events).ok
