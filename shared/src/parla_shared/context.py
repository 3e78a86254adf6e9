"""Who is acting and for which request: carried in context variables from the edge into logs, database and events."""

from __future__ import annotations

from contextvars import ContextVar
from uuid import UUID

import msgspec


class RequestContext(msgspec.Struct, frozen=True):
    request_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None


request_context: ContextVar[RequestContext] = ContextVar(
    "parla_request_context",
    default=RequestContext(),  # noqa: B039 - RequestContext is frozen
)
# The acting user: set by authentication, read by the database session (row-level security) and by events.
acting_user_id: ContextVar[UUID | None] = ContextVar("parla_acting_user_id", default=None)
# A system path (``parla_shared.db.SystemPath``) the current work runs: read by the database session, which
# names it in ``app.system_path`` so the tables' ``*_system_path`` policies let it see every user's rows.
system_path: ContextVar[str | None] = ContextVar("parla_system_path", default=None)
