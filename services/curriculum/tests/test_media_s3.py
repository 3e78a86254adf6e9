"""S3-compatible media storage (PARLA_MEDIA_BACKEND=s3) against a real local S3 server (moto's)."""
# The S3 backend is swapped into the suite's running app (one lifespan per suite, like production's one
# process per backend) rather than starting a second app.

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import boto3
import httpx
import pytest
from conftest import Client
from moto.server import ThreadedMotoServer

from parla_curriculum.cli import import_course_file
from parla_curriculum.clients.media import media_storage
from parla_curriculum.settings import CurriculumSettings
from parla_curriculum.use_cases.course_import import ImportResult
from parla_shared.settings import SettingsError
from parla_testing import JwksServer, TestEnvironment

BUCKET = "parla-media"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = s3_client(endpoint)
    client.create_bucket(Bucket=BUCKET)
    # As deployed: objects are publicly readable (bucket policy, or a CDN in front of the bucket).
    client.put_bucket_policy(
        Bucket=BUCKET,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{BUCKET}/*",
                    }
                ],
            }
        ),
    )
    yield endpoint
    server.stop()


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def s3_settings(
    test_env: TestEnvironment, jwks_server: JwksServer, tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str
) -> CurriculumSettings:
    return test_env.settings(
        CurriculumSettings,
        tmp_path_factory.mktemp("s3-data"),
        jwks_url=jwks_server.url,
        identity_url=jwks_server.base_url,
        media_backend="s3",
        s3_bucket=BUCKET,
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id="testing",
        s3_secret_access_key="testing",
    )


@pytest.fixture
def s3_client_app(
    client: Client,
    s3_settings: CurriculumSettings,
) -> Iterator[Client]:
    """The service with its media in the bucket (the backend is part of the app's state)."""
    state = client.app.state
    local = state.media
    state.media = media_storage(s3_settings)
    state.content_cache.clear()
    try:
        yield client
    finally:
        state.media = local
        state.content_cache.clear()


def test_s3_backend_needs_a_bucket() -> None:
    with pytest.raises(SettingsError, match="PARLA_S3_BUCKET is required"):
        CurriculumSettings.from_env({"PARLA_DATABASE_URL": "postgresql://x/y", "PARLA_MEDIA_BACKEND": "s3"})


def test_production_refuses_a_placeholder_s3_secret() -> None:
    environ = {"PARLA_DATABASE_URL": "postgresql://x/y", "PARLA_MEDIA_BACKEND": "s3", "PARLA_S3_BUCKET": "media"}
    with pytest.raises(SettingsError, match="PARLA_S3_SECRET_ACCESS_KEY is a placeholder"):
        CurriculumSettings.from_env({**environ, "PARLA_S3_SECRET_ACCESS_KEY": "CHANGE-ME"})
    issued = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "Q1w2E3r4T5"
    assert CurriculumSettings.from_env({**environ, "PARLA_S3_SECRET_ACCESS_KEY": issued}).environment == "production"


async def test_import_uploads_audio_and_payloads_point_at_the_bucket(
    s3_settings: CurriculumSettings,
    s3_client_app: Client,
    shipped_course: ImportResult,
    exercise_ids: dict[str, UUID],
    s3_endpoint: str,
) -> None:
    result = await import_course_file(s3_settings, s3_settings.content_path / "courses/es-from-en/course.yaml")
    assert (result.course_id, result.created, result.updated, result.deleted) == (shipped_course.course_id, 0, 0, 0)
    keys = [item["Key"] for item in s3_client(s3_endpoint).list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert len([key for key in keys if key.startswith("audio/es-from-en/")]) == 90

    tree = (await s3_client_app.get(f"/courses/{shipped_course.course_id}")).json()
    first_lesson = tree["sections"][0]["units"][0]["lessons"][0]["id"]
    lesson = (await s3_client_app.get(f"/lessons/{first_lesson}")).json()
    listening = next(exercise for exercise in lesson["exercises"] if exercise["type"] == "listening")
    for audio in listening["audio"]:
        assert audio["url"].startswith(f"{s3_endpoint}/{BUCKET}/audio/es-from-en/")
        body = (await asyncio.to_thread(httpx.get, audio["url"])).content
        assert body.startswith(b"OggS" if audio["format"] == "ogg" else (b"ID3", b"\xff"))

    exercise_id = exercise_ids["greetings-1-listen-hola"]
    chosen = await s3_client_app.get(
        f"/exercises/{exercise_id}/audio", params={"format": "ogg", "quality": "high"}, follow_redirects=False
    )
    assert chosen.status_code == 307, chosen.text
    assert chosen.headers["x-audio-quality"] == "high"
    redirected = await asyncio.to_thread(httpx.get, chosen.headers["location"])
    assert redirected.content.startswith(b"OggS")


async def test_admin_audio_file_metadata_is_read_from_the_bucket(
    *,
    s3_client_app: Client,
    shipped_course: ImportResult,
    exercise_ids: dict[str, UUID],
    admin_headers: dict[str, str],
    s3_endpoint: str,
    s3_settings: CurriculumSettings,
) -> None:
    source: Path = s3_settings.content_path / "courses/es-from-en/audio/greetings-1-listen-hola-high.ogg"
    s3_client(s3_endpoint).upload_file(str(source), BUCKET, "audio/manual/hola.ogg")
    created = await s3_client_app.post(
        "/admin/audio-files",
        headers=admin_headers,
        json={
            "exercise_id": str(exercise_ids["greetings-1-listen-hola"]),
            "file_path": "audio/manual/hola.ogg",
            "file_format": "ogg",
            "quality_level": "low",
        },
    )
    assert created.status_code == 201, created.text
    audio = created.json()
    assert audio["file_size_bytes"] == len(await asyncio.to_thread(source.read_bytes))
    assert audio["sample_rate"] >= 22050
    missing = await s3_client_app.post(
        "/admin/audio-files",
        headers=admin_headers,
        json={
            "exercise_id": str(exercise_ids["greetings-1-listen-hola"]),
            "file_path": "audio/manual/none.ogg",
            "file_format": "ogg",
            "quality_level": "medium",
        },
    )
    assert missing.status_code == 422
    deleted = await s3_client_app.delete(f"/admin/audio-files/{audio['id']}", headers=admin_headers)
    assert deleted.status_code == 204
