"""Generate the published contract: JSON Schema per message, and the AsyncAPI 3 document.

    uv run python -m durchstarten.events.export          # write shared/schemas, docs/asyncapi.yaml
    uv run python -m durchstarten.events.export --check  # exit 1 if the committed files differ

The contract tests compare the committed files with what the models generate, so a model
change without regenerated (and, where incompatible, re-versioned) artefacts fails CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from durchstarten.events.catalogue import CATALOGUE, Entry, Kind
from durchstarten.events.compatibility import breaking_changes
from durchstarten.events.envelope import CONTENT_TYPE, CloudEvent
from durchstarten.events.topics import WRITE_SERVICES

REPO = Path(__file__).resolve().parents[4]
SCHEMA_DIR = REPO / "shared" / "schemas"
ASYNCAPI_FILE = REPO / "docs" / "asyncapi.yaml"
CONTRACT_VERSION = "1.0.0"


def message_schema(entry: Entry) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one message's `data`, with its example."""
    schema = entry.model.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:durchstarten:schema:{entry.type}",
        "x-cloudevents-type": entry.type,
        "x-kind": str(entry.kind),
        "x-owner": entry.service or "every write service",
        **schema,
        "examples": [entry.model.example],
    }


def envelope_schema() -> dict[str, Any]:
    """The JSON Schema of the CloudEvents envelope around every message."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:durchstarten:schema:cloudevent",
        **CloudEvent.model_json_schema(mode="validation"),
    }


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema, for every message type and the envelope."""
    schemas = {f"{entry.type}.json": message_schema(entry) for entry in CATALOGUE}
    schemas["cloudevent.json"] = envelope_schema()
    return schemas


def _message_id(entry: Entry) -> str:
    return entry.type.replace(".", "_")


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document: every channel, operation and message, from the catalogue."""
    models: list[tuple[type[BaseModel], Literal["validation"]]] = [
        (entry.model, "validation") for entry in CATALOGUE
    ]
    models.append((CloudEvent, "validation"))
    keys, definitions = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    messages: dict[str, Any] = {}
    for entry in CATALOGUE:
        data_ref = keys[(entry.model, "validation")]["$ref"]
        messages[_message_id(entry)] = {
            "name": entry.type,
            "title": entry.model.__name__,
            "summary": (entry.model.__doc__ or "").strip().splitlines()[0],
            "contentType": CONTENT_TYPE,
            "payload": {
                "allOf": [
                    {"$ref": keys[(CloudEvent, "validation")]["$ref"]},
                    {
                        "type": "object",
                        "properties": {"type": {"const": entry.type}, "data": {"$ref": data_ref}},
                        "required": ["type", "data"],
                    },
                ]
            },
            "examples": [{"name": entry.type, "payload": _example_envelope(entry)}],
        }
    messages["dead_letter"] = {
        "name": "dead-letter",
        "title": "Dead letter",
        "summary": "A message that could not be processed, with headers saying why.",
        "headers": {
            "type": "object",
            "properties": {
                name: {"type": "string", "description": text}
                for name, text in (
                    ("dlq-source-topic", "Topic the message came from."),
                    ("dlq-source-partition", "Its partition."),
                    ("dlq-source-offset", "Its offset."),
                    ("dlq-consumer", "The consumer group that could not process it."),
                    ("dlq-error-class", "Reason code or error class."),
                    ("dlq-error-message", "What went wrong (never payload fragments)."),
                    ("dlq-redacted", "`true` where identifiers were redacted from the value."),
                )
            },
            "required": ["dlq-source-topic", "dlq-source-partition", "dlq-source-offset"],
        },
        "payload": {"description": "The original value (identifiers redacted for intake)."},
    }
    channels, operations = _channels_and_operations()
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Durchstarten event platform",
            "version": CONTRACT_VERSION,
            "description": (
                "Commands, replies and domain events of the NRW programme 'Durchstarten in "
                "Ausbildung und Arbeit' (Kreis Herford). Every message is a CloudEvents 1.0 "
                "envelope in structured JSON mode; `type` names the message and its version. "
                "Providers write commands to their inbound topics and read replies from their "
                "outbound topics; see docs/providers.md."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The local stack (`make run`).",
            },
            "production": {
                "host": "kafka:9092",
                "protocol": "kafka-secure",
                "description": "County deployment: SASL/SCRAM-SHA-512 over TLS.",
                "security": [{"$ref": "#/components/securitySchemes/scram"}],
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": schemas,
            "securitySchemes": {
                "scram": {
                    "type": "scramSha512",
                    "description": "One principal per provider, with prefix ACLs on its topics.",
                }
            },
        },
    }


def _example_envelope(entry: Entry) -> dict[str, Any]:
    source = "/providers/diakonie-herford" if entry.kind is Kind.COMMAND else "/services/intake"
    if entry.service and entry.kind is Kind.EVENT:
        source = f"/services/{entry.service}"
    return {
        "specversion": "1.0",
        "id": "4f1c0d3e-8b0a-4a57-b7a3-3f0e9c2d1b6a",
        "source": source,
        "type": entry.type,
        "time": "2022-03-01T10:00:00Z",
        "datacontenttype": "application/json",
        "data": entry.model.example,
    }


def _ref(message_id: str, channel: str | None = None) -> dict[str, str]:
    if channel is None:
        return {"$ref": f"#/components/messages/{message_id}"}
    return {"$ref": f"#/channels/{channel}/messages/{message_id}"}


def _channels_and_operations() -> tuple[dict[str, Any], dict[str, Any]]:
    provider = {"provider": {"description": "Provider id, e.g. `diakonie-herford`."}}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    replies = [e for e in CATALOGUE if e.kind is Kind.REPLY]
    for service in WRITE_SERVICES:
        commands = [e for e in CATALOGUE if e.kind is Kind.COMMAND and e.service == service]
        events = [e for e in CATALOGUE if e.kind is Kind.EVENT and e.service == service]
        spec = (
            (
                f"{service}Inbound",
                f"inbound.{{provider}}.{service}",
                commands,
                "receive",
                f"Commands from a provider to {service}; the provider is named by the topic.",
            ),
            (
                f"{service}Outbound",
                f"outbound.{{provider}}.{service}",
                replies,
                "send",
                f"Replies of {service} to a provider: one per command.",
            ),
            (
                f"{service}Events",
                f"{service}.events",
                events,
                "send",
                f"Domain events of {service}, keyed by participant pseudonym, kept for ever.",
            ),
        )
        for channel_id, address, entries, action, description in spec:
            channels[channel_id] = {
                "address": address,
                "description": description,
                "messages": {_message_id(e): _ref(_message_id(e)) for e in entries},
            }
            if "{provider}" in address:
                channels[channel_id]["parameters"] = provider
            operations[f"{action}{channel_id[0].upper()}{channel_id[1:]}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "messages": [_ref(_message_id(e), channel_id) for e in entries],
            }
        for channel_id, address in (
            (f"{service}InboundDeadLetters", f"inbound.{{provider}}.{service}.dlq"),
            (f"{service}EventsDeadLetters", f"{service}.events.dlq"),
        ):
            channels[channel_id] = {
                "address": address,
                "description": "Messages that could not be processed, for operators.",
                "messages": {"dead_letter": _ref("dead_letter")},
            }
            if "{provider}" in address:
                channels[channel_id]["parameters"] = provider
            operations[f"send{channel_id[0].upper()}{channel_id[1:]}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "messages": [_ref("dead_letter", channel_id)],
            }
    return channels, operations


class _PlainDumper(yaml.SafeDumper):
    """Writes repeated values out in full: anchors and aliases confuse human readers."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_asyncapi() -> str:
    """The AsyncAPI document as YAML text, stable across runs."""
    header = "# Generated by `python -m durchstarten.events.export`; do not edit by hand.\n"
    body = yaml.dump(
        asyncapi_document(), Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, width=100
    )
    return header + body


def render_schema(schema: dict[str, Any]) -> str:
    """A schema as the committed JSON text."""
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_all() -> list[Path]:
    """Write every artefact; remove schema files of types no longer in the catalogue."""
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = SCHEMA_DIR / name
        path.write_text(render_schema(schema))
        written.append(path)
    ASYNCAPI_FILE.parent.mkdir(parents=True, exist_ok=True)
    ASYNCAPI_FILE.write_text(render_asyncapi())
    written.append(ASYNCAPI_FILE)
    return written


def contract_problems(entries: tuple[Entry, ...] = CATALOGUE) -> list[str]:
    """What is wrong between the models and the committed schemas, in words a developer acts on.

    - a committed schema the models no longer produce, changed incompatibly: a new version
      (`<name>.vN+1`) with an upcaster is needed, and the old version stays as it was;
    - changed compatibly: regenerate and commit (`make schemas`);
    - a type without a committed schema: regenerate and commit;
    - a committed schema whose type left the catalogue: old versions must stay readable;
    - an old version without an upcaster to a newer one.
    """
    problems = []
    types = {entry.type for entry in entries}
    for entry in entries:
        path = SCHEMA_DIR / f"{entry.type}.json"
        current = message_schema(entry)
        if not path.exists():
            problems.append(f"{entry.type}: no committed schema; run `make schemas` and commit")
            continue
        committed = json.loads(path.read_text())
        if committed == current:
            continue
        breaks = breaking_changes(committed, current, is_command=entry.kind is Kind.COMMAND)
        if breaks:
            problems.append(
                f"{entry.type}: incompatible change ({'; '.join(breaks)}); keep this version "
                f"as it was and add {entry.name}.v{entry.version + 1} with an upcaster"
            )
        else:
            problems.append(f"{entry.type}: schema changed compatibly; run `make schemas`")
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        if path.stem != "cloudevent" and path.stem not in types:
            problems.append(f"{path.stem}: committed schema of a type no longer in the catalogue")
    newest: dict[str, int] = {}
    for entry in entries:
        newest[entry.name] = max(newest.get(entry.name, 0), entry.version)
    for entry in entries:
        if entry.version < newest[entry.name] and entry.current:
            problems.append(f"{entry.type}: older than v{newest[entry.name]} but no upcaster")
    return problems


def stale() -> list[str]:
    """Artefacts whose committed text differs from what the models generate."""
    differences = []
    for name, schema in json_schemas().items():
        path = SCHEMA_DIR / name
        if not path.exists() or path.read_text() != render_schema(schema):
            differences.append(str(path.relative_to(REPO)))
    if not ASYNCAPI_FILE.exists() or ASYNCAPI_FILE.read_text() != render_asyncapi():
        differences.append(str(ASYNCAPI_FILE.relative_to(REPO)))
    return differences


def main() -> int:
    """Command line: write, or with --check only compare."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    if args.check:
        differences = stale()
        for name in differences:
            print(f"out of date: {name}", file=sys.stderr)
        return 1 if differences else 0
    for path in write_all():
        print(path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
