"""The per-revision payload cache: rebuilt after a content change, checked at most every interval."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from parla_curriculum.cache import ContentCache, etag_matches
from parla_curriculum.cli import engine_for
from parla_curriculum.settings import CurriculumSettings

REVISION = text("SELECT revision FROM content_revision WHERE id = 1")


@pytest.fixture
async def engine(settings: CurriculumSettings) -> AsyncIterator[AsyncEngine]:
    engine = engine_for(settings)
    yield engine
    await engine.dispose()


class Builder:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, _session: AsyncSession) -> dict[str, int]:
        self.calls += 1
        return {"version": self.calls}


async def bump(db: asyncpg.Connection) -> None:
    await db.execute("UPDATE content_revision SET revision = revision + 1")


async def test_payloads_are_rebuilt_when_the_revision_moves(engine: AsyncEngine, db: asyncpg.Connection) -> None:
    cache, build = ContentCache(revision_check_seconds=0.0), Builder()
    first = await cache.get(engine, "key", build)
    assert first is not None
    assert first.body == b'{"version":1}'
    assert await cache.get(engine, "key", build) == first
    assert build.calls == 1
    await bump(db)
    second = await cache.get(engine, "key", build)
    assert second is not None
    assert second.body == b'{"version":2}'
    assert second.etag != first.etag


async def test_the_revision_is_checked_at_most_every_interval_unless_invalidated(
    engine: AsyncEngine, db: asyncpg.Connection
) -> None:
    cache, build = ContentCache(revision_check_seconds=3600.0), Builder()
    await cache.get(engine, "key", build)
    await bump(db)
    assert build.calls == 1
    await cache.get(engine, "key", build)
    assert build.calls == 1, "checked the revision inside the interval"
    cache.invalidate()
    await cache.get(engine, "key", build)
    assert build.calls == 2


async def test_missing_payloads_are_cached_as_missing(engine: AsyncEngine) -> None:
    cache, calls = ContentCache(revision_check_seconds=3600.0), []

    async def nothing(_session: AsyncSession) -> None:
        calls.append(1)

    assert await cache.get(engine, "gone", nothing) is None
    assert await cache.get(engine, "gone", nothing) is None
    assert len(calls) == 1


def test_if_none_match_forms() -> None:
    etag = '"abc"'
    assert etag_matches('"abc"', etag)
    assert etag_matches('W/"abc"', etag)
    assert etag_matches('"x", "abc"', etag)
    assert etag_matches("*", etag)
    assert not etag_matches('"abcd"', etag)
    assert not etag_matches(None, etag)


async def test_a_payload_built_before_a_change_is_not_kept_after_it(
    settings: CurriculumSettings, engine: AsyncEngine, db: asyncpg.Connection
) -> None:
    """A slow build from the content before a change must not outlive it once another read saw the change."""
    cache = ContentCache(revision_check_seconds=0.0)
    reading, finish = asyncio.Event(), asyncio.Event()

    async def slow_build(build_session: AsyncSession) -> dict[str, int]:
        revision = (await build_session.execute(REVISION)).scalar_one()
        reading.set()
        await finish.wait()
        return {"revision": revision}

    async def build(build_session: AsyncSession) -> dict[str, int]:
        return {"revision": (await build_session.execute(REVISION)).scalar_one()}

    slow = asyncio.create_task(cache.get(engine, "lesson", slow_build))
    await reading.wait()
    await bump(db)
    other_engine = engine_for(settings)
    try:
        # Another request sees the new revision first.
        await cache.get(other_engine, "course", build)
        finish.set()
        before = await slow
        assert before is not None
        after = await cache.get(other_engine, "lesson", build)
        current = await db.fetchval("SELECT revision FROM content_revision WHERE id = 1")
    finally:
        await other_engine.dispose()
    assert after is not None
    assert after.body == f'{{"revision":{current}}}'.encode()
