from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator

import asyncpg
import httpx
import pytest

from parla_testing import mail


@pytest.fixture(scope="session")
def gateway() -> Iterator[httpx.Client]:
    """The platform as `make run` starts it, reached only through the Caddy gateway."""
    url = os.environ.get("PARLA_TEST_GATEWAY_URL")
    if not url:
        pytest.fail("PARLA_TEST_GATEWAY_URL is not set: run the tests with `make test`")
    with httpx.Client(base_url=url, timeout=10) as client:
        yield client


MailedCode = Callable[[str, str], str]


@pytest.fixture(scope="session")
def mailed_code() -> MailedCode:
    """``mailed_code(email, subject_part)``: the code identity mailed, read from the platform's ``.eml`` files."""
    return mail.mailed_code


def answer_key(exercise_ids: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Right and wrong answers for these exercises, read from curriculum's own tables (the test's oracle)."""

    async def read() -> tuple[dict[str, str], dict[str, str]]:
        connection = await asyncpg.connect(os.environ["PARLA_TEST_ADMIN_DSN"])
        try:
            ids = [uuid.UUID(exercise_id) for exercise_id in exercise_ids]
            right = {
                str(row["id"]): row["correct_answer"]
                for row in await connection.fetch(
                    "SELECT id, correct_answer FROM curriculum.exercises WHERE id = ANY($1::uuid[])", ids
                )
            }
            wrong = dict.fromkeys(right, "no lo sé")
            for row in await connection.fetch(
                "SELECT exercise_id, id, is_correct FROM curriculum.exercise_options "
                "WHERE exercise_id = ANY($1::uuid[])",
                ids,
            ):
                (right if row["is_correct"] else wrong)[str(row["exercise_id"])] = str(row["id"])
            return right, wrong
        finally:
            await connection.close()

    return asyncio.run(read())
