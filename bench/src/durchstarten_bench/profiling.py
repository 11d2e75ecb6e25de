"""Sampling profiles of running service processes (py-spy), summed up by function.

py-spy reads the interpreter's stacks from outside (`--nonblocking`: it never pauses the
service), so the profile shows the hottest path under the real load.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def py_spy() -> str:
    """The py-spy executable installed beside this interpreter (a PyPI wheel ships it)."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return str(beside)
    found = shutil.which("py-spy")
    if found is None:
        msg = "py-spy is not installed (it comes with the bench package's dependencies)"
        raise RuntimeError(msg)
    return found


async def record(pid: int, output: Path, *, seconds: float, rate: int = 100) -> None:
    """Sample process `pid` for `seconds` into a folded-stacks file."""
    process = await asyncio.create_subprocess_exec(
        py_spy(),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        str(rate),
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(output),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        msg = f"py-spy failed for pid {pid}: {stderr.decode(errors='replace')[-500:]}"
        raise RuntimeError(msg)


def _function(frame: str) -> str:
    """`name (path/to/file.py:123)` -> `name (file.py)`: one entry per function, not per line."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if len(parts) >= 2 else path
    return f"{name} ({short})"


def summarise(folded: str, *, top: int = 12) -> dict[str, Any]:
    """Self and total shares of the hottest functions in py-spy's folded stacks.

    Idle samples (the event loop waiting in select/epoll) are counted apart, so the shares
    are of the time the process was busy.
    """
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    busy = idle = 0
    for line in folded.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        leaf = frames[-1]
        if leaf.startswith(("select ", "poll ", "_run_once ", "run_forever ")) or "epoll" in leaf:
            idle += count
            continue
        busy += count
        own[leaf] += count
        for function in set(frames):
            total[function] += count

    def share(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": name, "share": round(count / busy, 3)}
            for name, count in counter.most_common(top)
        ]

    return {
        "samples": busy + idle,
        "busy_share": round(busy / (busy + idle), 3) if busy + idle else 0.0,
        "self": share(own) if busy else [],
        "total": share(total) if busy else [],
    }
