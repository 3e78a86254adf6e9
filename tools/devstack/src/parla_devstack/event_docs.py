"""``parla-dev events``: the AsyncAPI document of every event (``docs/asyncapi.json``) generated from the contracts
(``parla_shared.contracts``), and ``docs/events.md``, its rendered view. ``--check`` fails when either file
differs from what the contracts say (the devstack suite runs it, so CI keeps them equal)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import msgspec

from parla_devstack.console import say
from parla_shared.contracts import EventContract, catalogue, curriculum, identity, progress
from parla_shared.events.envelope import ENVELOPE_VERSION, EventEnvelope
from parla_shared.provisioning.environment import project_root

ASYNCAPI_PATH = Path("docs/asyncapi.json")
MARKDOWN_PATH = Path("docs/events.md")
_SCHEMAS = "#/components/schemas/{name}"
_CONTEXT_NOTES = {"identity": identity.__doc__, "curriculum": curriculum.__doc__, "progress": progress.__doc__}

PREAMBLE = """Every event travels in the envelope of `parla_shared.events.envelope.EventEnvelope` (`id` UUIDv7, `type` =
the subject, `version`, `occurred_at`, `producer`, `subject_id`, `actor_id`, `request_id`, `ip`, `user_agent`,
`data`). Each event's `data` is a msgspec Struct defined once, in the contract module of the context that
publishes it (`parla_shared.contracts.<context>`); producers write those Structs through their outbox
(`Outbox.add(session, type, data, subject_id=...)`) in the transaction of the change; consumers decode `data`
into them, so a payload that breaks its contract is a dead letter with the reason. The relay publishes events to
the context's JetStream stream `PARLA_<CONTEXT>` (subjects `parla.<context>.>`) with `Nats-Msg-Id` = event id.
Consumers are durable pull consumers named `<consumer-service>-<purpose>`, idempotent through their inbox table.
An event a consumer keeps failing on is written to its `<schema>.dead_letters` table, kept for
`PARLA_DEAD_LETTER_MAX_AGE_DAYS` (30) days like the stream it came from.

**Who may publish and consume** (`parla_shared/events/permissions.py`, deployed as `deploy/nats/auth.conf`): each
service connects as its own NATS user `parla_<service>` and may publish only `parla.<service>.>`, create and
update only its own stream, read only the streams it consumes, through its own durable consumers only, and
receive only on its inbox prefix `_INBOX.<service>.>`. A service's stream is created by that service when it
connects; a consumer waits (retrying every second) until its producer made it.

The `data` fields are the contract between contexts; producers may add fields, never rename or drop one without
a new `version`, and consumers ignore fields they do not know."""


def _text(docstring: str | None) -> str:
    """A docstring as one paragraph of Markdown (``code`` → `code`)."""
    return " ".join((docstring or "").split()).replace("``", "`")


def _channel_id(contract: EventContract) -> str:
    return contract.event_type.removeprefix("parla.").replace("{", "").replace("}", "")


def asyncapi_document() -> dict[str, Any]:
    contracts = catalogue()
    payloads = sorted({contract.payload for contract in contracts}, key=lambda payload: payload.__name__)
    _, schemas = msgspec.json.schema_components([EventEnvelope, *payloads], ref_template=_SCHEMAS)
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for contract in contracts:
        name = contract.payload.__name__
        messages[name] = {
            "name": name,
            "summary": _text(contract.payload.__doc__),
            "payload": {
                "allOf": [
                    {"$ref": _SCHEMAS.format(name="EventEnvelope")},
                    {"type": "object", "properties": {"data": {"$ref": _SCHEMAS.format(name=name)}}},
                ]
            },
        }
        channel_id = _channel_id(contract)
        channel: dict[str, Any] = {
            "address": contract.event_type,
            "summary": contract.summary,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "x-parla-version": contract.version,
            "x-parla-consumed-by": list(contract.consumed_by),
        }
        parameters = re.findall(r"\{(\w+)\}", contract.event_type)
        if parameters:
            channel["parameters"] = {parameter: {"description": contract.summary} for parameter in parameters}
        channels[channel_id] = channel
        operations[f"{contract.context}.publish.{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{contract.context} publishes it through its outbox",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Parla events",
            "version": f"{ENVELOPE_VERSION}.0.0",
            "description": PREAMBLE,
        },
        "defaultContentType": "application/json",
        "servers": {
            "nats": {
                "host": "localhost:4223",
                "protocol": "nats",
                "description": "JetStream; one stream per context, PARLA_<CONTEXT>",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": dict(sorted(messages.items())), "schemas": schemas},
    }


def _field_type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_field_type(option) for option in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list of {_field_type(schema.get('items', {}))}"
    return str(schema.get("format") or schema.get("type") or "any")


def _fields(schema: dict[str, Any]) -> str:
    required = set(schema.get("required", []))
    return ", ".join(
        f"`{name}` {_field_type(field)}" + ("" if name in required else " (optional)")
        for name, field in schema.get("properties", {}).items()
    )


def render_markdown(document: dict[str, Any]) -> str:
    """``docs/events.md``: the AsyncAPI document as one table per context."""
    schemas = document["components"]["schemas"]
    lines = [
        "# Parla event catalogue",
        "",
        "<!-- Generated by `parla-dev events` from parla_shared.contracts (also docs/asyncapi.json); do not edit. -->",
        "",
        document["info"]["description"],
    ]
    by_context: dict[str, list[dict[str, Any]]] = {}
    for channel in document["channels"].values():
        by_context.setdefault(channel["address"].split(".")[1], []).append(channel)
    for context, channels in by_context.items():
        lines += ["", f"## {context} (`PARLA_{context.upper()}`)", "", _text(_CONTEXT_NOTES[context]), ""]
        lines += ["| type | version | data | consumed by |", "|---|---|---|---|"]
        for channel in channels:
            (message,) = channel["messages"]
            schema = schemas[message]
            data = f"{_fields(schema)} — {_text(schema.get('description'))}"
            consumers = ", ".join(channel["x-parla-consumed-by"])
            summary = f"`{channel['address']}`: {channel['summary']}"
            lines.append(f"| {summary} | {channel['x-parla-version']} | {data} | {consumers} |")
    return "\n".join(lines) + "\n"


def _expected(root: Path) -> dict[Path, str]:
    document = asyncapi_document()
    return {
        root / ASYNCAPI_PATH: json.dumps(document, indent=2, ensure_ascii=False) + "\n",
        root / MARKDOWN_PATH: render_markdown(document),
    }


def stale_event_docs(root: Path) -> list[Path]:
    """The generated documents that differ from what the contracts say."""
    return [path for path, text in _expected(root).items() if not path.exists() or path.read_text() != text]


def events_command(args: argparse.Namespace) -> int:
    root = project_root()
    if args.check:
        stale = stale_event_docs(root)
        for path in stale:
            say(f"{path.relative_to(root)} is not what the contracts say: run `parla-dev events`")
        return 1 if stale else 0
    for path, text in _expected(root).items():
        path.write_text(text)
        say(f"wrote {path.relative_to(root)}")
    return 0
