"""Schema compatibility: whether a changed message schema may keep its version.

A schema `wider` *accepts all* of `narrower` when every instance valid under `narrower` is
valid under `wider`. The check is structural and conservative: where it cannot prove
acceptance (two different regular expressions, say) it reports a break.

- Commands are read by their service only: the new schema must accept all the old one did
  (providers still sending the old shape keep working).
- Events are read by consumers of every age: the new schema must accept all old data (for
  replays) and old readers, which ignore unknown fields, must accept all new data.
"""

from __future__ import annotations

import math
from typing import Any

Schema = dict[str, Any]

_NUMERIC_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems")
_NUMERIC_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")


def _resolve(schema: Schema, root: Schema) -> Schema:
    while "$ref" in schema:
        ref: str = schema["$ref"]
        name = ref.rsplit("/", 1)[-1]
        schema = {**root.get("$defs", {})[name], **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _types(schema: Schema) -> set[str] | None:
    value = schema.get("type")
    if value is None:
        return None
    types = {value} if isinstance(value, str) else set(value)
    if "number" in types:
        types.add("integer")
    return types


def accepts_all(  # noqa: PLR0912  # one branch per JSON Schema keyword reads best
    wider: Schema, narrower: Schema, wider_root: Schema, narrower_root: Schema, path: str = ""
) -> list[str]:
    """Reasons why some instance of `narrower` is not valid under `wider` (empty: none)."""
    wider = _resolve(wider, wider_root)
    narrower = _resolve(narrower, narrower_root)
    here = path or "(root)"
    if "anyOf" in narrower:
        return [
            problem
            for branch in narrower["anyOf"]
            for problem in accepts_all(wider, branch, wider_root, narrower_root, path)
        ]
    if "anyOf" in wider:
        attempts = [
            accepts_all(branch, narrower, wider_root, narrower_root, path)
            for branch in wider["anyOf"]
        ]
        if any(not attempt for attempt in attempts):
            return []
        return [f"{here}: no alternative accepts the old shape"]
    problems: list[str] = []
    wider_types, narrower_types = _types(wider), _types(narrower)
    if wider_types is not None and (narrower_types is None or not narrower_types <= wider_types):
        problems.append(f"{here}: type {narrower_types} is no longer accepted ({wider_types})")
        return problems
    for key in ("enum", "const"):
        if key in wider:
            allowed = wider[key] if key == "enum" else [wider[key]]
            given = narrower.get("enum", [narrower["const"]] if "const" in narrower else None)
            if given is None or any(value not in allowed for value in given):
                problems.append(f"{here}: values {given} are not all in {allowed}")
    for key in _NUMERIC_LOWER:
        if narrower.get(key, -math.inf) < wider.get(key, -math.inf):
            problems.append(f"{here}: {key} raised to {wider[key]}")
    for key in _NUMERIC_UPPER:
        if narrower.get(key, math.inf) > wider.get(key, math.inf):
            problems.append(f"{here}: {key} lowered to {wider[key]}")
    for key in ("pattern", "format"):
        if key in wider and wider[key] != narrower.get(key):
            problems.append(f"{here}: {key} changed to {wider[key]!r}")
    if "items" in wider and "items" in narrower:
        problems += accepts_all(
            wider["items"], narrower["items"], wider_root, narrower_root, f"{path}[]"
        )
    if wider_types and "object" in wider_types:
        problems += _object_accepts_all(wider, narrower, wider_root, narrower_root, path)
    return problems


def _object_accepts_all(
    wider: Schema, narrower: Schema, wider_root: Schema, narrower_root: Schema, path: str
) -> list[str]:
    problems: list[str] = []
    wider_props: dict[str, Schema] = wider.get("properties", {})
    narrower_props: dict[str, Schema] = narrower.get("properties", {})
    for name in sorted(set(wider.get("required", [])) - set(narrower.get("required", []))):
        problems.append(f"{path}.{name}: is required now")
    for name, sub in narrower_props.items():
        if name in wider_props:
            problems += accepts_all(
                wider_props[name], sub, wider_root, narrower_root, f"{path}.{name}"
            )
        elif wider.get("additionalProperties") is False:
            problems.append(f"{path}.{name}: is no longer accepted")
    return problems


def breaking_changes(old: Schema, new: Schema, *, is_command: bool) -> list[str]:
    """Why `new` cannot keep the version of `old` (empty: a compatible change)."""
    problems = [f"new schema rejects old data: {p}" for p in accepts_all(new, old, new, old)]
    if not is_command:
        tolerant_old = {**old, "additionalProperties": True}
        problems += [
            f"old readers reject new data: {p}" for p in accepts_all(tolerant_old, new, old, new)
        ]
    return problems
