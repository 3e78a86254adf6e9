"""The versioned envelope every event travels in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
from uuid_utils.compat import uuid7

from parla_shared.context import acting_user_id, request_context

ENVELOPE_VERSION = 1


class EventEnvelope(msgspec.Struct, kw_only=True, frozen=True):
    """``type`` is the NATS subject, e.g. ``parla.progress.lesson.completed``; ``data`` the event's own fields."""

    id: UUID
    type: str
    version: int
    occurred_at: datetime
    producer: str
    subject_id: str | None
    actor_id: UUID | None
    request_id: str | None
    ip: str | None
    user_agent: str | None
    data: dict[str, Any]

    @property
    def context(self) -> str:
        """The bounded context that published it: ``parla.<context>.…``."""
        return self.type.split(".")[1]


def new_event(
    event_type: str,
    data: msgspec.Struct | dict[str, Any],
    *,
    producer: str,
    subject_id: object | None = None,
    actor_id: UUID | None = None,
    version: int = ENVELOPE_VERSION,
) -> EventEnvelope:
    """An event stamped with the current request's id, IP, user agent and acting user."""
    request = request_context.get()
    payload = msgspec.to_builtins(data) if isinstance(data, msgspec.Struct) else data
    return EventEnvelope(
        id=uuid7(),
        type=event_type,
        version=version,
        occurred_at=datetime.now(UTC),
        producer=producer,
        subject_id=None if subject_id is None else str(subject_id),
        actor_id=actor_id if actor_id is not None else acting_user_id.get(),
        request_id=request.request_id,
        ip=request.ip,
        user_agent=request.user_agent,
        data=payload,
    )


def encode_event(event: EventEnvelope) -> bytes:
    return msgspec.json.encode(event)


def decode_event(payload: bytes) -> EventEnvelope:
    return msgspec.json.decode(payload, type=EventEnvelope)
