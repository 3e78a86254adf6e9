"""Encoded public payloads cached per content revision, with their ETags.

Every change to a content table bumps ``curriculum.content_revision`` (a statement trigger, migration
0002), whichever process made it (this service, the import CLI, the seed). A read costs one primary-key
lookup of the revision, at most every ``revision_check_seconds`` (so a hot lesson costs no database round
trip at all); when it moved, the cache is emptied and payloads are built again. A write made by this process
calls ``invalidate()`` so its own next read checks at once; a write made elsewhere (another replica, the CLI)
is seen within ``revision_check_seconds`` — well inside the ``max-age`` clients may cache for anyway. The
revision is read before the payload, so a payload can only be newer than the revision it is filed under.

The cache takes the engine, not a request's session: it opens a connection only when it has to (a revision
check, a miss), so a hit, most reads and grading calls, costs no session at all (docs/performance.md).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

CACHE_CONTROL = "public, max-age=60"


@dataclass(frozen=True)
class CachedBody:
    body: bytes
    etag: str


class ContentCache:
    def __init__(self, max_entries: int = 4096, revision_check_seconds: float = 1.0) -> None:
        self._max_entries = max_entries
        self._revision_check_seconds = revision_check_seconds
        self._revision: int | None = None
        self._checked_at = float("-inf")
        self._entries: dict[Hashable, CachedBody | None] = {}
        self._values: dict[Hashable, Any] = {}

    def invalidate(self) -> None:
        """This process changed content: check the revision on the next read."""
        self._checked_at = float("-inf")

    def clear(self) -> None:
        """Forget every payload (e.g. the media backend, hence every audio URL, changed)."""
        self._entries.clear()
        self._values.clear()
        self.invalidate()

    async def get(
        self,
        engine: AsyncEngine,
        key: Hashable,
        build: Callable[[AsyncSession], Awaitable[Any]],
    ) -> CachedBody | None:
        """The cached body for ``key``; ``build`` returns the payload, or None when it does not exist."""
        await self._follow_revision(engine)
        if key in self._entries:
            return self._entries[key]
        revision = self._revision
        payload = await _built(engine, build)
        entry = None if payload is None else encode(payload)
        if self._revision != revision:
            # Another request moved the cache to a newer revision while this payload was being built, maybe
            # from older content: filed now, it would outlive that revision.
            return entry
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = entry
        return entry

    async def value(
        self,
        engine: AsyncEngine,
        key: Hashable,
        build: Callable[[AsyncSession], Awaitable[Any]],
    ) -> Any:
        """Like ``get`` for data the service itself uses (answer keys), kept as built rather than encoded."""
        await self._follow_revision(engine)
        if key in self._values:
            return self._values[key]
        revision = self._revision
        value = await _built(engine, build)
        if self._revision != revision:
            return value  # built from content that may be older than the revision now cached (see ``get``)
        if len(self._values) >= self._max_entries:
            self._values.clear()
        self._values[key] = value
        return value

    async def _follow_revision(self, engine: AsyncEngine) -> None:
        now = time.monotonic()
        if now - self._checked_at >= self._revision_check_seconds:
            async with engine.connect() as connection:
                revision = (await connection.execute(_REVISION)).scalar_one()
            self._checked_at = now
            if revision != self._revision:
                self._entries.clear()
                self._values.clear()
                self._revision = revision


_REVISION = text("SELECT revision FROM content_revision WHERE id = 1")


async def _built(engine: AsyncEngine, build: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    """A payload built in a read-only session of its own."""
    async with AsyncSession(engine) as session:
        return await build(session)


def encode(payload: Any) -> CachedBody:
    body = msgspec.json.encode(payload)
    return CachedBody(body=body, etag=f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"')


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [candidate.strip() for candidate in if_none_match.split(",")]
    return any(candidate in ("*", etag) or candidate.removeprefix("W/") == etag for candidate in candidates)


def cached_response(request: Request[Any, Any, Any], cached: CachedBody) -> Response[bytes]:
    """200 with the body, or 304 when the client already holds this version (``If-None-Match``)."""
    headers = {"ETag": cached.etag, "Cache-Control": CACHE_CONTROL}
    if etag_matches(request.headers.get("if-none-match"), cached.etag):
        return Response(content=b"", status_code=304, headers=headers)
    return Response(content=cached.body, media_type="application/json", headers=headers)
