"""Database rows as JSON: the one conversion every service's read API uses."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any


def jsonable(value: Any) -> Any:
    """`value` with UUIDs and dates as strings, through nested dicts and lists."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, uuid.UUID | date):
        return str(value)
    return value
