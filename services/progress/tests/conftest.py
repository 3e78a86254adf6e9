"""Progress against the real things: PostgreSQL, NATS, and the real curriculum app in a real HTTP server,
its content imported through curriculum's own admin import."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from litestar import Litestar

from parla_progress.app import create_app
from parla_progress.clock import ManualClock
from parla_progress.settings import ProgressSettings
from parla_testing import ServiceSettingsFactory, TestEnvironment, TokenFactory, bearer, free_port

ROOT = Path(__file__).resolve().parents[3]
SPANISH_COURSE = ROOT / "content" / "courses" / "es-from-en" / "course.yaml"

# A tiny course of our own (German to Italian, a pair no other suite uses, so it clashes with nothing):
# unit "basics" has one lesson, unit "more" two, each lesson requiring the one before.
TEST_COURSE = Path(__file__).parent / "tiny_course.yaml"


class ThreadedServer:
    """An ASGI app in a real uvicorn server, in a thread with its own event loop (as in production)."""

    def __init__(self, app: Litestar) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="on",
                # As in production (75 s): uvicorn's default 5 s equals httpx's idle expiry, so the server could
                # close a pooled connection just as the client reused it (a ReadError, not a service fault).
                timeout_keep_alive=75,
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._server.started:
                try:
                    if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        pytest.fail(f"server on {self.url} did not become ready")

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


@pytest.fixture(scope="session")
def curriculum_url(service_settings: ServiceSettingsFactory) -> Iterator[str]:
    """The real curriculum service, served over HTTP on a free port."""
    from parla_curriculum.app import create_app as create_curriculum_app
    from parla_curriculum.settings import CurriculumSettings

    # max_in_flight: the concurrency tests offer 50 requests at once (shedding itself is tested in shared).
    settings = service_settings(CurriculumSettings, max_in_flight=60)
    with ThreadedServer(create_curriculum_app(settings)) as server:
        yield server.url


@dataclass
class Content:
    """The imported courses, and an answer key read from curriculum's own tables (the test's oracle)."""

    spanish_id: uuid.UUID
    test_id: uuid.UUID
    correct: dict[uuid.UUID, str] = field(default_factory=dict)
    wrong: dict[uuid.UUID, str] = field(default_factory=dict)


@pytest.fixture(scope="session")
async def content(curriculum_url: str, make_token: TokenFactory, test_env: TestEnvironment) -> Content:
    admin = make_token(uuid.uuid4(), roles=("admin",))
    ids = []
    async with httpx.AsyncClient(base_url=curriculum_url, timeout=60) as http:
        for course in (SPANISH_COURSE, TEST_COURSE):
            response = await http.post(
                "/admin/courses/import",
                content=course.read_bytes(),
                headers={**bearer(admin), "Content-Type": "application/yaml"},
            )
            assert response.status_code in (200, 201), response.text
            ids.append(uuid.UUID(response.json()["course_id"]))
    result = Content(spanish_id=ids[0], test_id=ids[1])
    connection = await asyncpg.connect(test_env.admin_dsn)
    try:
        for row in await connection.fetch("SELECT id, correct_answer FROM curriculum.exercises"):
            result.correct[row["id"]] = row["correct_answer"]
            result.wrong[row["id"]] = "zzz qqq"
        for row in await connection.fetch(
            "SELECT exercise_id, id, is_correct FROM curriculum.exercise_options ORDER BY sort_order"
        ):
            if row["is_correct"]:
                result.correct[row["exercise_id"]] = str(row["id"])
            else:
                result.wrong[row["exercise_id"]] = str(row["id"])
    finally:
        await connection.close()
    return result


@pytest.fixture(scope="session")
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="session")
def settings(service_settings: ServiceSettingsFactory, curriculum_url: str) -> ProgressSettings:
    return service_settings(
        ProgressSettings,
        curriculum_url=curriculum_url,
        db_pool_max_size=30,
        max_in_flight=60,  # the concurrency tests offer 50 requests at once (shedding itself is tested in shared)
    )


@pytest.fixture(scope="session")
def progress_url(settings: ProgressSettings, clock: ManualClock) -> Iterator[str]:
    with ThreadedServer(create_app(settings, clock=clock)) as server:
        yield server.url


@pytest.fixture(scope="session")
async def client(progress_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The progress service over real HTTP (the test client of Litestar would serialise concurrent requests)."""
    async with httpx.AsyncClient(base_url=progress_url, timeout=30) as http:
        yield http


@pytest.fixture
async def db(test_env: TestEnvironment) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to look at the progress tables behind the API."""
    connection = await asyncpg.connect(test_env.admin_dsn)
    try:
        yield connection
    finally:
        await connection.close()


class LearnerClient:
    """One learner talking to the progress API with their own token."""

    def __init__(self, client: httpx.AsyncClient, token: str, user_id: uuid.UUID, content: Content) -> None:
        self.client = client
        self.user_id = user_id
        self.headers = bearer(token)
        self.content = content

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.headers, **kwargs)

    async def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(path, json=json, headers={**self.headers, **(headers or {})})

    async def enrol(self, course_id: uuid.UUID) -> httpx.Response:
        return await self.post("/enrollments", {"course_id": str(course_id)})

    async def lessons(self, course_id: uuid.UUID) -> list[dict[str, Any]]:
        response = await self.get(f"/courses/{course_id}")
        assert response.status_code == 200, response.text
        lessons: list[dict[str, Any]] = response.json()["lessons"]
        return lessons

    async def start(self, lesson_id: str) -> dict[str, Any]:
        response = await self.post(f"/lessons/{lesson_id}/sessions")
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def answer(
        self, session_id: str, exercise_id: str, *, correct: bool, key: str | None = None, **extra: Any
    ) -> httpx.Response:
        oracle = self.content.correct if correct else self.content.wrong
        body = {"exercise_id": exercise_id, "answer": oracle[uuid.UUID(exercise_id)], **extra}
        return await self.post(
            f"/sessions/{session_id}/answers", body, headers={"Idempotency-Key": key} if key else None
        )

    async def answer_all(self, session: dict[str, Any], wrong: AbstractSet[int] = frozenset()) -> None:
        for index, exercise_id in enumerate(session["exercise_ids"]):
            response = await self.answer(session["session_id"], exercise_id, correct=index not in wrong)
            assert response.status_code == 200, response.text
            if index in wrong:
                retry = await self.answer(session["session_id"], exercise_id, correct=True)
                assert retry.status_code == 200, retry.text

    async def complete(self, session_id: str) -> httpx.Response:
        return await self.post(f"/sessions/{session_id}/complete")

    async def complete_a_lesson(self, course_id: uuid.UUID) -> dict[str, Any]:
        """The course's first available lesson started, answered correctly and completed: the completion's body."""
        session = await self.start((await self.lessons(course_id))[0]["lesson_id"])
        await self.answer_all(session)
        response = await self.complete(session["session_id"])
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def me(self) -> dict[str, Any]:
        response = await self.get("/me")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


NewLearner = Callable[[], LearnerClient]
"""Makes a learner of their own (a new user id and token) each call."""


@pytest.fixture
def new_learner(client: httpx.AsyncClient, make_token: TokenFactory, content: Content) -> NewLearner:
    def make() -> LearnerClient:
        user_id = uuid.uuid4()
        return LearnerClient(client, make_token(user_id), user_id, content)

    return make
