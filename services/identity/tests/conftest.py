from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from parla_identity.app import create_app
from parla_identity.settings import IdentitySettings
from parla_identity.use_cases.context import Identity
from parla_testing import ServiceSettingsFactory, TestEnvironment, app_client, bearer

PASSWORD = "Secret-pass1"


@pytest.fixture(scope="session")
def settings(service_settings: ServiceSettingsFactory) -> IdentitySettings:
    return service_settings(
        IdentitySettings,
        bcrypt_rounds=4,
        login_max_failures_per_account=5,
        login_max_failures_per_ip=20,
        signing_keys_reload_seconds=1.0,
    )


@pytest.fixture(scope="session")
async def client(settings: IdentitySettings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(settings), behind_gateway=True) as test_client:
        yield test_client


@pytest.fixture(scope="session")
async def identity(settings: IdentitySettings) -> AsyncIterator[Identity]:
    """Identity's keys and rules on the tests' own event loop (the app runs on the test client's loop),
    sharing the app's database: a rotation here is what another replica or the CLI would do."""
    local = Identity.from_settings(settings)
    yield local
    await local.keys.close()


@pytest.fixture(scope="session")
async def db(test_env: TestEnvironment) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the test database, to look at what the service stored."""
    connection = await asyncpg.connect(test_env.admin_dsn)
    yield connection
    await connection.close()


def new_email(prefix: str = "learner") -> str:
    return f"{prefix}-{uuid4().hex[:10]}@Example.com"


async def register(client: httpx.AsyncClient, email_address: str | None = None, **fields: Any) -> dict[str, Any]:
    body = {"email": email_address or new_email(), "password": PASSWORD, "name": "Ana", **fields}
    response = await client.post("/auth/register", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def login(client: httpx.AsyncClient, email_address: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/auth/login", json={"email": email_address, "password": password})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def user_with_token(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, str]]:
    user = await register(client)
    pair = await login(client, user["email"])
    return user, bearer(pair["access_token"])


async def wait_for_mail(mail_dir: Path, recipient: str, subject_part: str, timeout: float = 15.0) -> EmailMessage:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for path in await asyncio.to_thread(lambda: sorted(mail_dir.glob("*.eml"))):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == recipient and subject_part in str(message["Subject"]):
                assert isinstance(message, EmailMessage)
                return message
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"no mail '{subject_part}' to {recipient}")
        await asyncio.sleep(0.05)


def code_from(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert isinstance(text, str)
    return text.split("?token=")[1].split()[0]


async def events_of(db: asyncpg.Connection, event_type: str, subject_id: str) -> list[dict[str, Any]]:
    import json

    rows = await db.fetch(
        "SELECT payload FROM identity.outbox WHERE subject = $1 AND payload->>'subject_id' = $2 ORDER BY created_at",
        event_type,
        subject_id,
    )
    return [json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"] for row in rows]
