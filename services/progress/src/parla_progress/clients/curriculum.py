"""Curriculum over HTTP: course trees and lessons (cached, revalidated by ETag) and answer grading.

One ``aiohttp.ClientSession`` per app (a pool of keep-alive connections), with timeouts; idempotent GETs are
retried on connection errors and 5xx answers, the grading POST only when the request never reached the server.
aiohttp rather than httpx: a grading call is on every answer, and httpx's client layers cost about eight times
aiohttp's CPU per call (docs/performance.md, "The grading call").
Progress calls with its own service token (identity signs it for the audience ``curriculum``); the learner's
token never leaves progress, the learner's id travels as data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import aiohttp
import msgspec
import structlog

from parla_shared.problems import Problem
from parla_shared.service_tokens import ServiceTokens

_log = structlog.get_logger("parla.progress.curriculum")
_RETRIES = 3
AUDIENCE = "curriculum"


class TreeLesson(msgspec.Struct, frozen=True):
    id: UUID
    name: str
    xp_reward: int = 20
    prerequisite_ids: list[UUID] = msgspec.field(default_factory=list)


class TreeUnit(msgspec.Struct, frozen=True):
    id: UUID
    name: str
    lessons: list[TreeLesson] = msgspec.field(default_factory=list)


class TreeSection(msgspec.Struct, frozen=True):
    id: UUID
    name: str
    units: list[TreeUnit] = msgspec.field(default_factory=list)


class CourseTree(msgspec.Struct, frozen=True):
    id: UUID
    name: str
    sections: list[TreeSection] = msgspec.field(default_factory=list)

    def units(self) -> Iterator[TreeUnit]:
        for section in self.sections:
            yield from section.units

    def lessons(self) -> Iterator[TreeLesson]:
        for unit in self.units():
            yield from unit.lessons

    def lesson(self, lesson_id: UUID) -> TreeLesson | None:
        return next((lesson for lesson in self.lessons() if lesson.id == lesson_id), None)

    def prerequisites(self) -> list[tuple[UUID, list[UUID]]]:
        return [(lesson.id, lesson.prerequisite_ids) for lesson in self.lessons()]

    def skills(self) -> list[list[UUID]]:
        """Each unit (a skill) as the ids of its lessons."""
        return [[lesson.id for lesson in unit.lessons] for unit in self.units()]


class LessonExercise(msgspec.Struct, frozen=True):
    id: UUID


class LessonContent(msgspec.Struct, frozen=True):
    id: UUID
    name: str
    course_id: UUID | None = None
    exercises: list[LessonExercise] = msgspec.field(default_factory=list)


class Grade(msgspec.Struct, frozen=True):
    exercise_id: UUID
    correct: bool
    feedback: Literal["exact", "accent", "typo", "wrong"] | str
    correct_answer: str | None = None
    message: str | None = None


@dataclass
class _Cached:
    etag: str | None
    body: bytes
    fetched_at: float


@dataclass(frozen=True)
class Reply:
    """Curriculum's answer, read whole (the connection goes back to the pool at once)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


class CurriculumClient:
    def __init__(
        self,
        base_url: str,
        tokens: ServiceTokens,
        *,
        timeout: float = 5.0,
        cache_seconds: float = 30.0,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._trace_configs = list(trace_configs)  # aiohttp's request tracing (tests see what went on the wire)
        self._client: aiohttp.ClientSession | None = None
        self._cache: dict[str, _Cached] = {}

    async def start(self) -> None:
        self._client = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._timeout, connect=min(self._timeout, 2.0)),
            connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=30),
            # Curriculum's cookies and the environment's proxies have no business in a call between services.
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            trace_configs=self._trace_configs,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        await self._tokens.close()

    async def _send(self, method: str, path: str, headers: Mapping[str, str], body: bytes | None = None) -> Reply:
        if self._client is None:
            raise RuntimeError("the curriculum client is not started")
        async with self._client.request(method, self._base_url + path, headers=headers, data=body) as response:
            return Reply(response.status, response.headers, await response.read())

    async def course_tree(self, course_id: UUID) -> CourseTree:
        body = await self._get_cached(f"/courses/{course_id}", what="Course")
        return msgspec.json.decode(body, type=CourseTree)

    async def lesson(self, lesson_id: UUID) -> LessonContent:
        body = await self._get_cached(f"/lessons/{lesson_id}", what="Lesson")
        return msgspec.json.decode(body, type=LessonContent)

    async def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self._tokens.token(AUDIENCE)}"}

    async def grade(self, exercise_id: UUID, answer: str, learner_id: UUID) -> Grade:
        path = f"/internal/exercises/{exercise_id}/check"
        body = msgspec.json.encode({"answer": answer, "learner_id": str(learner_id)})
        headers = {**await self._auth(), "Content-Type": "application/json"}
        for attempt in range(1, _RETRIES + 1):
            try:
                response = await self._send("POST", path, headers, body)
                break
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                # The request never reached curriculum: sending it again is safe.
                if attempt == _RETRIES:
                    raise _unavailable(exc) from exc
                await asyncio.sleep(0.05 * attempt)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise _unavailable(exc) from exc
        if response.status == 404:
            raise Problem(404, "Exercise not found", f"exercise {exercise_id} does not exist")
        if response.status in (400, 422):
            raise Problem(400, "Answer rejected", _detail(response))
        if response.status != 200:
            raise self._bad_status(response)
        return msgspec.json.decode(response.body, type=Grade)

    async def _get_cached(self, path: str, *, what: str) -> bytes:
        cached = self._cache.get(path)
        if cached is not None and time.monotonic() - cached.fetched_at < self._cache_seconds:
            return cached.body
        headers = await self._auth()
        if cached is not None and cached.etag:
            headers["If-None-Match"] = cached.etag
        response = await self._get(path, headers)
        if response.status == 304 and cached is not None:
            cached.fetched_at = time.monotonic()
            return cached.body
        if response.status == 404:
            self._cache.pop(path, None)
            raise Problem(404, f"{what} not found", f"{what.lower()} {path.rsplit('/', 1)[-1]} does not exist")
        if response.status != 200:
            raise self._bad_status(response)
        self._cache[path] = _Cached(response.headers.get("etag"), response.body, time.monotonic())
        return response.body

    async def _get(self, path: str, headers: dict[str, str]) -> Reply:
        for attempt in range(1, _RETRIES + 1):
            try:
                response = await self._send("GET", path, headers)
            except (aiohttp.ClientError, TimeoutError) as exc:
                if attempt == _RETRIES:
                    raise _unavailable(exc) from exc
            else:
                if response.status < 500 or attempt == _RETRIES:
                    return response
            await asyncio.sleep(0.05 * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _bad_status(self, response: Reply) -> Problem:
        if response.status == 503:
            # Curriculum shed the call (overloaded): the learner's request is shed the same way, to retry.
            return Problem(
                503,
                "Curriculum unavailable",
                "the curriculum service is at capacity; retry after the time given in Retry-After",
                headers={"Retry-After": response.headers.get("retry-after", "1")},
            )
        _log.warning("curriculum answered unexpectedly", status=response.status, body=response.text[:200])
        if response.status in (401, 403):
            # Curriculum refused progress' own credential (a key it does not know yet, a token it no longer
            # accepts): the next call gets a fresh one. The learner did nothing wrong.
            self._tokens.forget(AUDIENCE)
            return Problem(503, "Curriculum unavailable", "curriculum refused this service's credential; try again")
        return Problem(502, "Curriculum error", f"curriculum answered {response.status}")


def _detail(response: Reply) -> str:
    try:
        body: Any = msgspec.json.decode(response.body)
    except msgspec.DecodeError:
        return response.text[:200]
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)


def _unavailable(exc: Exception) -> Problem:
    _log.warning("curriculum unreachable", error=str(exc) or type(exc).__name__)
    return Problem(503, "Curriculum unavailable", "the curriculum service could not be reached; try again")
