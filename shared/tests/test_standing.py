"""Account standing: admin routes ask identity about the account now; deleted accounts are refused at once by every
service from an in-memory list fed by PostgreSQL notifications and identity's full list."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from litestar import Controller, Litestar, get
from litestar.testing import AsyncTestClient

from parla_shared.auth import requires_admin, requires_user
from parla_shared.service import ServiceDefinition, build_service_app
from parla_shared.settings import ServiceSettings
from parla_shared.standing import DELETED_ACCOUNTS_CHANNEL, DeletedAccounts
from parla_testing import JwksServer, SigningKey, TestEnvironment, bearer, free_port


class ProbeSettings(ServiceSettings, kw_only=True, frozen=True):
    service_name: str = "analytics"
    port: int = 0
    db_schema: str = "analytics"


class StandingProbe(Controller):
    path = "/standing"

    @get("/admin", guards=[requires_admin])
    async def admin(self) -> dict[str, bool]:
        return {"ok": True}

    @get("/learner", guards=[requires_user])
    async def learner(self) -> dict[str, bool]:
        return {"ok": True}


class FixedStanding:
    """Identity's list, as a test sets it."""

    def __init__(self) -> None:
        self.deleted: set[uuid.UUID] = set()
        self.fetch_started = asyncio.Event()
        self.release_fetch: asyncio.Event | None = None

    async def roles_of(self, user_id: uuid.UUID) -> tuple[str, ...] | None:
        return ("admin",)

    async def deleted_accounts(self) -> set[uuid.UUID]:
        snapshot = set(self.deleted)
        self.fetch_started.set()
        if self.release_fetch is not None:
            await self.release_fetch.wait()
        return snapshot


async def _eventually(condition: object, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_a_notified_deletion_is_known_at_once_and_identitys_list_is_copied(test_env: TestEnvironment) -> None:
    deleted, standing = DeletedAccounts(), FixedStanding()
    listed = uuid.uuid4()
    standing.deleted.add(listed)
    runner = asyncio.create_task(deleted.run(test_env.service_dsn("analytics"), standing, 0.2))
    notifier = await asyncpg.connect(test_env.service_dsn("identity"))
    try:
        await _eventually(lambda: listed in deleted)
        notified = uuid.uuid4()
        await notifier.execute("SELECT pg_notify($1, $2)", DELETED_ACCOUNTS_CHANNEL, str(notified))
        await _eventually(lambda: notified in deleted, seconds=2)
        await notifier.execute("SELECT pg_notify($1, 'not-a-uuid')", DELETED_ACCOUNTS_CHANNEL)
        standing.deleted = {notified}  # identity has it too now; the expired one left its list
        await _eventually(lambda: listed not in deleted)
        assert notified in deleted
    finally:
        runner.cancel()
        await notifier.close()


async def test_a_deletion_notified_while_the_list_is_fetched_is_kept(test_env: TestEnvironment) -> None:
    deleted, standing = DeletedAccounts(), FixedStanding()
    standing.release_fetch = asyncio.Event()
    runner = asyncio.create_task(deleted.run(test_env.service_dsn("analytics"), standing, 60))
    notifier = await asyncpg.connect(test_env.service_dsn("identity"))
    try:
        await standing.fetch_started.wait()  # identity's answer is on its way, without the new deletion
        notified = uuid.uuid4()
        await notifier.execute("SELECT pg_notify($1, $2)", DELETED_ACCOUNTS_CHANNEL, str(notified))
        await _eventually(lambda: notified in deleted, seconds=2)
        standing.release_fetch.set()
        await asyncio.sleep(0.2)
        assert notified in deleted
    finally:
        runner.cancel()
        await notifier.close()


@pytest.fixture
async def probe(
    test_env: TestEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[AsyncTestClient[Litestar], JwksServer, SigningKey]]:
    key = SigningKey()
    with JwksServer([key]) as identity:
        data_dir: Path = tmp_path_factory.mktemp("standing")
        settings = test_env.settings(
            ProbeSettings,
            data_dir,
            jwks_url=identity.url,
            identity_url=identity.base_url,
            deleted_accounts_sync_seconds=0.2,
        )
        app = build_service_app(
            ServiceDefinition(settings=settings, description="probe", route_handlers=[StandingProbe])
        )
        async with AsyncTestClient(app=app) as client:
            yield client, identity, key


async def test_a_revoked_admin_role_is_a_403_on_the_next_admin_request(
    probe: tuple[AsyncTestClient[Litestar], JwksServer, SigningKey],
) -> None:
    client, identity, key = probe
    user_id = uuid.uuid4()
    headers = bearer(key.token(user_id, ("admin",)))
    assert (await client.get("/standing/admin", headers=headers)).status_code == 200
    identity.revoked_admins.add(user_id)
    refused = await client.get("/standing/admin", headers=headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "revoked" in refused.json()["detail"]


async def test_a_deleted_admin_is_a_401_on_the_next_admin_request(
    probe: tuple[AsyncTestClient[Litestar], JwksServer, SigningKey],
) -> None:
    client, identity, key = probe
    user_id = uuid.uuid4()
    headers = bearer(key.token(user_id, ("admin",)))
    identity.deleted_accounts.add(user_id)
    assert (await client.get("/standing/admin", headers=headers)).status_code == 401


async def test_a_deleted_accounts_token_is_refused_everywhere_without_asking_identity(
    probe: tuple[AsyncTestClient[Litestar], JwksServer, SigningKey],
) -> None:
    client, identity, key = probe
    user_id = uuid.uuid4()
    headers = bearer(key.token(user_id))
    assert (await client.get("/standing/learner", headers=headers)).status_code == 200
    identity.deleted_accounts.add(user_id)  # as identity's list says after the deletion
    await _eventually(lambda: user_id in client.app.state.deleted_accounts)
    for path in ("/standing/learner", "/health"):
        refused = await client.get(path, headers=headers)
        assert refused.status_code == 401, path
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/standing/learner", headers=bearer(key.token(uuid.uuid4())))).status_code == 200


async def test_admin_power_is_not_granted_when_identity_cannot_be_asked(
    test_env: TestEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> None:
    key = SigningKey()
    with JwksServer([key]) as jwks:
        settings = test_env.settings(
            ProbeSettings,
            tmp_path_factory.mktemp("standing-down"),
            jwks_url=jwks.url,
            identity_url=f"http://127.0.0.1:{free_port()}",  # nobody listens
        )
        app = build_service_app(
            ServiceDefinition(settings=settings, description="probe", route_handlers=[StandingProbe])
        )
        async with AsyncTestClient(app=app) as client:
            response = await client.get("/standing/admin", headers=bearer(key.token(uuid.uuid4(), ("admin",))))
            assert response.status_code == 503
            assert response.headers["content-type"].startswith("application/problem+json")
