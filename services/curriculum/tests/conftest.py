from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from parla_curriculum.app import create_app
from parla_curriculum.cli import import_course_file
from parla_curriculum.settings import CurriculumSettings
from parla_curriculum.use_cases.course_import import ImportResult
from parla_shared.service import plain_dsn
from parla_testing import ServiceSettingsFactory, SigningKey, app_client, bearer

CHECKOUT = Path(__file__).resolve().parents[3]
SHIPPED_COURSE = CHECKOUT / "content" / "courses" / "es-from-en" / "course.yaml"
Client = AsyncTestClient[Litestar]


@pytest.fixture(scope="session")
def settings(service_settings: ServiceSettingsFactory) -> CurriculumSettings:
    return service_settings(
        CurriculumSettings,
        public_url="http://parla.test",
        # Every read checks the content revision: a change made by another connection (the CLI import
        # fixtures) is seen at once. The interval itself is tested in test_content_cache.py.
        content_revision_check_seconds=0.0,
    )


@pytest.fixture(scope="session")
async def client(settings: CurriculumSettings) -> AsyncIterator[Client]:
    async with app_client(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
async def shipped_course(settings: CurriculumSettings) -> ImportResult:
    """The Spanish course, imported once per suite the way the seed does it."""
    return await import_course_file(settings, SHIPPED_COURSE)


@pytest.fixture(scope="session")
def admin_headers(make_token: Callable[..., str]) -> dict[str, str]:
    return bearer(make_token(uuid4(), ("admin",)))


@pytest.fixture(scope="session")
def learner_headers(make_token: Callable[..., str]) -> dict[str, str]:
    return bearer(make_token(uuid4(), ()))


@pytest.fixture(scope="session")
def grader_headers(signing_key: SigningKey) -> dict[str, str]:
    """Progress' service token for curriculum: what the internal grading route accepts."""
    return bearer(signing_key.service_token("progress", "curriculum"))


@pytest.fixture
def learner_id() -> UUID:
    return uuid4()


@pytest.fixture(scope="session")
async def db(settings: CurriculumSettings) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection as the service's role, to look at rows the API does not show."""
    connection = await asyncpg.connect(plain_dsn(settings.database_url), server_settings={"search_path": "curriculum"})
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture(scope="session")
async def exercise_ids(db: asyncpg.Connection, shipped_course: ImportResult) -> dict[str, UUID]:
    """The shipped course's exercise ids by key."""
    rows = await db.fetch("SELECT key, id FROM exercises WHERE course_id = $1", shipped_course.course_id)
    return {row["key"]: row["id"] for row in rows}


# What the course import tests share: a small course document and what the import leaves in the database.
TABLES = (
    "courses",
    "sections",
    "units",
    "lessons",
    "lesson_prerequisites",
    "exercises",
    "exercise_options",
    "lesson_exercises",
    "audio_files",
)


def german_course() -> dict[str, Any]:
    """A small course document under a key of its own each call, so that no test imports into another's course.
    Only one course may teach a language pair: a test whose import succeeds gives its course a pair that no other
    test's course teaches."""
    return {
        "format": "parla-course/1",
        "key": f"german-{uuid4().hex[:12]}",
        "from_language": "en",
        "to_language": "de",
        "name": "German for English speakers",
        "description": "A test course.",
        "difficulty_level": "beginner",
        "sections": [
            {
                "key": "a1",
                "name": "Beginner German",
                "cefr_level": "A1",
                "units": [
                    {
                        "key": "basics",
                        "name": "Basics",
                        "color": "#112233",
                        "lessons": [
                            {
                                "key": "basics-1",
                                "name": "Hallo",
                                "prerequisites": [],
                                "exercises": [
                                    {
                                        "key": "basics-1-hello",
                                        "type": "translation",
                                        "prompt": "Hello",
                                        "answer": "Hallo",
                                        "alternatives": ["Hallo!"],
                                        "metadata": {"source_language": "en", "target_language": "de"},
                                    },
                                    {
                                        "key": "basics-1-mc-bye",
                                        "type": "multiple_choice",
                                        "prompt": 'Which means "bye"?',
                                        "options": [
                                            {"text": "Tschüss", "correct": True},
                                            {"text": "Hallo"},
                                            {"text": "Danke"},
                                        ],
                                    },
                                    {
                                        "key": "basics-1-thanks",
                                        "type": "translation",
                                        "prompt": "Thanks",
                                        "answer": "Danke",
                                    },
                                ],
                            },
                            {
                                "key": "basics-2",
                                "name": "Mehr",
                                "xp_reward": 15,
                                "prerequisites": ["basics-1"],
                                "exercises": [
                                    {
                                        "key": "basics-2-please",
                                        "type": "translation",
                                        "prompt": "Please",
                                        "answer": "Bitte",
                                    },
                                    {"use": "basics-1-hello"},
                                ],
                            },
                        ],
                    }
                ],
            }
        ],
    }


async def import_document(client: Client, headers: dict[str, str], document: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/admin/courses/import", content=json.dumps(document), headers={**headers, "Content-Type": "application/json"}
    )


async def row_counts(db: asyncpg.Connection) -> dict[str, int]:
    return {table: await db.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES}  # noqa: S608


async def events(db: asyncpg.Connection, pattern: str = "parla.curriculum.%") -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT payload FROM outbox WHERE subject LIKE $1 ORDER BY created_at", pattern)
    return [json.loads(row["payload"]) for row in rows]
