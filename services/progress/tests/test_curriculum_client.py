"""The curriculum client against the real curriculum service: ETag revalidation, 404s, grading."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from conftest import Content, ThreadedServer

from parla_progress.curriculum import CurriculumClient
from parla_shared.problems import Problem
from parla_shared.testing import JwksServer, TestEnvironment, TokenFactory, bearer


async def test_trees_are_revalidated_with_their_etag(
    curriculum_url: str, content: Content, make_token: TokenFactory
) -> None:
    token = make_token(uuid.uuid4())
    client = CurriculumClient(curriculum_url, cache_seconds=0)
    await client.start()
    statuses: list[int] = []

    async def record(response: httpx.Response) -> None:
        statuses.append(response.status_code)

    client._http.event_hooks["response"].append(record)
    try:
        first = await client.course_tree(content.test_id, token)
        second = await client.course_tree(content.test_id, token)
        assert first == second
        assert [lesson.xp_reward for lesson in first.lessons()] == [15, 20, 20]
        assert statuses == [200, 304]
        lesson = await client.lesson(first.skills()[1][0], token)
        assert len(lesson.exercises) == 2
        assert lesson.course_id == content.test_id
        with pytest.raises(Problem) as missing:
            await client.course_tree(uuid.uuid4(), token)
        assert missing.value.status_code == 404
    finally:
        await client.close()


async def test_grading_forwards_the_learners_token(
    curriculum_url: str, content: Content, make_token: TokenFactory
) -> None:
    client = CurriculumClient(curriculum_url)
    await client.start()
    try:
        tree = await client.course_tree(content.test_id, make_token(uuid.uuid4()))
        exercise = (await client.lesson(tree.skills()[0][0], make_token(uuid.uuid4()))).exercises[0].id
        grade = await client.grade(exercise, content.correct[exercise], make_token(uuid.uuid4()))
        assert grade.correct is True
        wrong = await client.grade(exercise, content.wrong[exercise], make_token(uuid.uuid4()))
        assert (wrong.correct, wrong.feedback) == (False, "wrong")
        with pytest.raises(Problem) as refused:
            await client.grade(exercise, "x", "not-a-token")
        assert refused.value.status_code == 401
    finally:
        await client.close()


async def test_a_curriculum_at_capacity_sheds_the_grading_call_as_a_503(
    test_env: TestEnvironment, jwks_server: JwksServer, tmp_path: Path, content: Content, make_token: TokenFactory
) -> None:
    from parla_curriculum.app import create_app as create_curriculum_app
    from parla_curriculum.settings import CurriculumSettings

    settings = test_env.settings(CurriculumSettings, tmp_path, jwks_url=jwks_server.url, max_in_flight=1)
    exercise = next(iter(content.correct))
    upload_may_finish = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield b'{"answer": '
        await upload_may_finish.wait()
        yield b'"x"}'

    with ThreadedServer(create_curriculum_app(settings)) as server:
        client = CurriculumClient(server.url)
        await client.start()
        try:
            async with httpx.AsyncClient(base_url=server.url) as other:
                # A request still uploading its body holds curriculum's only place.
                holder = asyncio.create_task(
                    other.post(
                        f"/internal/exercises/{exercise}/check",
                        content=slow_body(),
                        headers=bearer(make_token(uuid.uuid4())),
                    )
                )
                await asyncio.sleep(0.5)
                with pytest.raises(Problem) as shed:
                    await client.grade(exercise, content.correct[exercise], make_token(uuid.uuid4()))
                assert shed.value.status_code == 503
                assert shed.value.headers == {"Retry-After": "1"}
                upload_may_finish.set()
                await holder
        finally:
            await client.close()
