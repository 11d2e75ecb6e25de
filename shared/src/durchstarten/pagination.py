"""Keyset pagination of the list endpoints: `limit`, an opaque `cursor`, and `next_cursor`.

A list is read in a fixed order with a unique key (say `(registered_at, participant_id)`);
a page is the `limit` rows after the last key of the page before. The cursor carries that
key, so a row added or removed between two pages never shifts another one into or out of
view, and no page costs more than its own rows (no OFFSET). A cursor names its list, so one
taken from another list is refused instead of read as something else.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import HTTPException, Query

DEFAULT_LIMIT = 100
MAX_LIMIT = 500

Row = TypeVar("Row")


@dataclass(frozen=True)
class PageRequest:
    """Which page a caller asks for: at most `limit` rows after the key `after`."""

    list_name: str
    limit: int
    after: tuple[Any, ...] | None
    """The last key of the previous page, typed as the list's SQL takes it; None: page 1."""

    def fetch_limit(self) -> int:
        """Rows to read: one more than a page, to tell whether another page follows."""
        return self.limit + 1

    def after_or_nones(self, size: int) -> tuple[Any, ...]:
        """The key's parts as SQL parameters; nulls for the first page."""
        return self.after if self.after is not None else (None,) * size

    def page(
        self, rows: Sequence[Row], key: Callable[[Row], tuple[Any, ...]]
    ) -> tuple[list[Row], str | None]:
        """The page of `rows` (read with `fetch_limit`) and the cursor of the next page."""
        if len(rows) <= self.limit:
            return list(rows), None
        shown = list(rows[: self.limit])
        return shown, encode_cursor(self.list_name, key(shown[-1]))

    def answer(
        self,
        name: str,
        rows: Sequence[Row],
        key: Callable[[Row], tuple[Any, ...]],
        render: Callable[[list[Row]], Any] = list,
    ) -> dict[str, Any]:
        """The page as a JSON body: `{name: the rows rendered, "next_cursor": ...}`."""
        shown, next_cursor = self.page(rows, key)
        return {name: render(shown), "next_cursor": next_cursor}


def encode_cursor(list_name: str, key: tuple[Any, ...]) -> str:
    """An opaque cursor for the rows after `key` in `list_name`."""
    parts = [p.isoformat() if hasattr(p, "isoformat") else str(p) for p in key]
    raw = json.dumps([list_name, *parts], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    list_name: str, cursor: str, parse: Sequence[Callable[[str], Any]]
) -> tuple[Any, ...]:
    """The key a cursor of `list_name` carries, each part parsed; ValueError if it is none."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError("not a cursor") from error
    if (
        not isinstance(decoded, list)
        or len(decoded) != len(parse) + 1
        or decoded[0] != list_name
        or not all(isinstance(part, str) for part in decoded[1:])
    ):
        msg = "not a cursor of this list"
        raise ValueError(msg)
    return tuple(convert(part) for convert, part in zip(parse, decoded[1:], strict=True))


def paged(
    list_name: str, *key_parts: Callable[[str], Any]
) -> Callable[..., Awaitable[PageRequest]]:
    """A FastAPI dependency reading `limit` and `cursor` for the list `list_name`.

    `key_parts` parse the key's parts from the cursor (e.g. `date.fromisoformat`,
    `uuid.UUID`); a cursor that does not parse is refused with 400 `invalid-cursor`.
    """

    async def page_request(
        limit: Annotated[
            int, Query(ge=1, le=MAX_LIMIT, description="Most rows in the answer.")
        ] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None,
            Query(max_length=1000, description="`next_cursor` of the page before."),
        ] = None,
    ) -> PageRequest:
        if cursor is None:
            return PageRequest(list_name, limit, None)
        try:
            after = decode_cursor(list_name, cursor, key_parts)
        except ValueError:
            raise HTTPException(
                400,
                {
                    "reason": "invalid-cursor",
                    "field": "cursor",
                    "message_en": "The cursor is not one this list gave out.",
                    "message_de": "Der Cursor stammt nicht aus dieser Liste.",
                },
            ) from None
        return PageRequest(list_name, limit, after)

    return page_request
