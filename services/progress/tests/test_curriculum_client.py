"""The curriculum client against the real curriculum service: ETag revalidation, 404s, grading with progress' own
service token."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import aiohttp
import httpx
import jwt
import pytest
from conftest import Content, ThreadedServer

from parla_progress.clients.curriculum import CurriculumClient
from parla_shared.problems import Problem
from parla_shared.secret_policy import DEV_SERVICE_CLIENT_SECRET
from parla_shared.service_tokens import ServiceTokens
from parla_testing import JwksServer, SigningKey, TestEnvironment, bearer


def _tokens(jwks_server: JwksServer, secret: str = DEV_SERVICE_CLIENT_SECRET) -> ServiceTokens:
    return ServiceTokens(jwks_server.base_url, "progress", secret)


async def test_trees_are_revalidated_with_their_etag(
    curriculum_url: str, content: Content, jwks_server: JwksServer
) -> None:
    statuses: list[int] = []
    tracing = aiohttp.TraceConfig()

    async def record(_session: object, _context: object, params: aiohttp.TraceRequestEndParams) -> None:
        statuses.append(params.response.status)

    tracing.on_request_end.append(record)
    client = CurriculumClient(curriculum_url, _tokens(jwks_server), cache_seconds=0, trace_configs=[tracing])
    await client.start()
    try:
        first = await client.course_tree(content.test_id)
        second = await client.course_tree(content.test_id)
        assert first == second
        assert [lesson.xp_reward for lesson in first.lessons()] == [15, 20, 20]
        assert statuses == [200, 304]
        lesson = await client.lesson(first.skills()[1][0])
        assert len(lesson.exercises) == 2
        assert lesson.course_id == content.test_id
        with pytest.raises(Problem) as missing:
            await client.course_tree(uuid.uuid4())
        assert missing.value.status_code == 404
    finally:
        await client.close()


async def test_grading_sends_progress_service_token_and_the_learner_id_as_data(
    curriculum_url: str, content: Content, jwks_server: JwksServer
) -> None:
    sent: list[tuple[Mapping[str, str], bytes]] = []
    tracing = aiohttp.TraceConfig()

    async def record_headers(_session: object, _context: object, params: aiohttp.TraceRequestHeadersSentParams) -> None:
        sent.append((params.headers, b""))

    async def record_body(_session: object, _context: object, params: aiohttp.TraceRequestChunkSentParams) -> None:
        headers, body = sent[-1]
        sent[-1] = (headers, body + params.chunk)

    tracing.on_request_headers_sent.append(record_headers)
    tracing.on_request_chunk_sent.append(record_body)
    client = CurriculumClient(curriculum_url, _tokens(jwks_server), trace_configs=[tracing])
    await client.start()
    learner_id = uuid.uuid4()
    try:
        tree = await client.course_tree(content.test_id)
        exercise = (await client.lesson(tree.skills()[0][0])).exercises[0].id
        grade = await client.grade(exercise, content.correct[exercise], learner_id)
        assert grade.correct is True
        wrong = await client.grade(exercise, content.wrong[exercise], learner_id)
        assert (wrong.correct, wrong.feedback) == (False, "wrong")
        headers, body = sent[-1]
        assert json.loads(body)["learner_id"] == str(learner_id)
        token = headers["Authorization"].removeprefix("Bearer ")
        assert jwt.get_unverified_header(token)["typ"] == "service+jwt"
        claims = jwt.decode(token, options={"verify_signature": False})
        assert (claims["client_id"], claims["aud"]) == ("progress", "parla-curriculum")
    finally:
        await client.close()


async def test_grading_without_a_service_credential_is_a_503_not_the_learners_fault(
    curriculum_url: str, content: Content, jwks_server: JwksServer
) -> None:
    client = CurriculumClient(curriculum_url, _tokens(jwks_server, secret="not-the-secret"))
    await client.start()
    try:
        with pytest.raises(Problem) as refused:
            await client.grade(next(iter(content.correct)), "x", uuid.uuid4())
        assert refused.value.status_code == 503
    finally:
        await client.close()


async def test_a_curriculum_at_capacity_sheds_the_grading_call_as_a_503(
    test_env: TestEnvironment, jwks_server: JwksServer, tmp_path: Path, content: Content, signing_key: SigningKey
) -> None:
    from parla_curriculum.app import create_app as create_curriculum_app
    from parla_curriculum.settings import CurriculumSettings

    settings = test_env.settings(
        CurriculumSettings, tmp_path, jwks_url=jwks_server.url, identity_url=jwks_server.base_url, max_in_flight=1
    )
    exercise = next(iter(content.correct))
    upload_may_finish = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield b'{"answer": '
        await upload_may_finish.wait()
        yield b'"x"}'

    with ThreadedServer(create_curriculum_app(settings)) as server:
        client = CurriculumClient(server.url, _tokens(jwks_server))
        await client.start()
        try:
            async with httpx.AsyncClient(base_url=server.url) as other:
                # A request still uploading its body holds curriculum's only place.
                holder = asyncio.create_task(
                    other.post(
                        f"/internal/exercises/{exercise}/check",
                        content=slow_body(),
                        headers=bearer(signing_key.service_token("progress", "curriculum")),
                    )
                )
                await asyncio.sleep(0.5)
                with pytest.raises(Problem) as shed:
                    await client.grade(exercise, content.correct[exercise], uuid.uuid4())
                assert shed.value.status_code == 503
                assert shed.value.headers == {"Retry-After": "1"}
                upload_may_finish.set()
                await holder
        finally:
            await client.close()
