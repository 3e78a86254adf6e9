"""The events' contracts: each event's payload is a msgspec Struct, defined once, in the module of the context
that publishes it (``identity``, ``curriculum``, ``progress``). Producers write these Structs to their outbox;
consumers decode ``EventEnvelope.data`` into them (``decode``), so a payload that breaks its contract is a
dead letter with the reason (``InvalidPayloadError``), never a ``KeyError`` deep in a handler.

They live in the shared kernel, not in the producing service, so a consumer depends on the contract alone and
never on another service's package. Producers may add fields, never rename or drop one without a new
``version``; consumers ignore fields they do not know. docs/asyncapi.json and docs/events.md are generated from
``catalogue()`` (``parla-dev events``) and a test keeps them equal to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from parla_shared.events.envelope import EventEnvelope

PayloadT = TypeVar("PayloadT", bound=msgspec.Struct)


@dataclass(frozen=True)
class EventContract:
    """One event: its ``event_type`` (the NATS subject; ``{entity}``/``{action}`` stand for a family of subjects), its
    payload Struct, what it means, the envelope ``version`` producers write and who consumes it."""

    event_type: str
    payload: type[msgspec.Struct]
    summary: str
    consumed_by: Sequence[str] = ()
    version: int = 1

    @property
    def context(self) -> str:
        return self.event_type.split(".")[1]


class InvalidPayloadError(ValueError):
    """An event's ``data`` does not fit its contract: retrying cannot help, so the consumer dead-letters it."""


def decode(event: EventEnvelope, payload: type[PayloadT]) -> PayloadT:
    """``event.data`` as its contract's Struct; ``InvalidPayloadError`` naming the event type and the bad field."""
    try:
        return msgspec.convert(event.data, payload)
    except msgspec.ValidationError as exc:
        raise InvalidPayloadError(f"{event.type} payload breaks its contract ({payload.__name__}): {exc}") from exc


def catalogue() -> list[EventContract]:
    """Every contract, by context in stream order (identity, curriculum, progress)."""
    from parla_shared.contracts import curriculum, identity, progress

    return [*identity.CONTRACTS, *curriculum.CONTRACTS, *progress.CONTRACTS]
