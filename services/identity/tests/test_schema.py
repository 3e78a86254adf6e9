"""The database enforces identity's rules itself: constraints, indexes, cascades and updated_at triggers."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import asyncpg
import httpx
import nats
import pytest
from conftest import login, new_email, register, user_with_token
from nats.js.errors import NotFoundError

from parla_shared.events.envelope import decode_event
from parla_testing import TestEnvironment


async def _user(db: asyncpg.Connection, email: str | None = None, **columns: Any) -> uuid.UUID:
    values = {"email": email or new_email(), "name": "Schema", **columns}
    names = ", ".join(values)
    placeholders = ", ".join(f"${n}" for n in range(1, len(values) + 1))
    user_id: uuid.UUID = await db.fetchval(
        f"INSERT INTO identity.users ({names}) VALUES ({placeholders}) RETURNING id",  # noqa: S608 - fixed names
        *values.values(),
    )
    return user_id


async def test_email_unique_case_insensitively_and_well_formed(db: asyncpg.Connection) -> None:
    email = new_email()
    await _user(db, email)
    with pytest.raises(asyncpg.UniqueViolationError):
        await _user(db, email.upper())
    for bad in ("no-at-sign", "a@b", "two@@example.com", "spaces in@example.com"):
        with pytest.raises(asyncpg.CheckViolationError):
            await _user(db, bad)


async def test_defaults_and_checks_of_users(db: asyncpg.Connection) -> None:
    user_id = await _user(db)
    row = await db.fetchrow("SELECT * FROM identity.users WHERE id = $1", user_id)
    assert row is not None
    assert (row["daily_xp_goal"], row["timezone"], row["is_email_verified"]) == (20, "UTC", False)
    assert row["created_at"] is not None
    for goal in (10, 20, 30, 50):
        await _user(db, daily_xp_goal=goal)
    with pytest.raises(asyncpg.CheckViolationError):
        await _user(db, daily_xp_goal=15)
    with pytest.raises(asyncpg.CheckViolationError):
        await _user(db, password_hash="plaintext-password")
    with pytest.raises(asyncpg.NotNullViolationError):
        await db.execute("INSERT INTO identity.users (email) VALUES ($1)", new_email())


async def test_updated_at_trigger(db: asyncpg.Connection) -> None:
    user_id = await _user(db)
    before = await db.fetchval("SELECT updated_at FROM identity.users WHERE id = $1", user_id)
    await asyncio.sleep(0.01)
    await db.execute("UPDATE identity.users SET name = 'Changed' WHERE id = $1", user_id)
    after = await db.fetchval("SELECT updated_at FROM identity.users WHERE id = $1", user_id)
    assert after > before


async def test_deleting_a_user_cascades_to_every_identity_row(db: asyncpg.Connection) -> None:
    user_id = await _user(db)
    await db.execute(
        "INSERT INTO identity.oauth_providers (user_id, provider, provider_user_id) VALUES ($1, 'google', $2)",
        user_id,
        uuid.uuid4().hex,
    )
    await db.execute("INSERT INTO identity.user_roles (user_id, role) VALUES ($1, 'admin')", user_id)
    await db.execute(
        "INSERT INTO identity.refresh_tokens (user_id, family_id, token_hash, expires_at) "
        "VALUES ($1, gen_random_uuid(), $2, now() + interval '1 day')",
        user_id,
        uuid.uuid4().hex,
    )
    await db.execute(
        "INSERT INTO identity.user_tokens (user_id, purpose, token_hash, expires_at) "
        "VALUES ($1, 'password_reset', $2, now() + interval '1 hour')",
        user_id,
        uuid.uuid4().hex,
    )
    await db.execute("DELETE FROM identity.users WHERE id = $1", user_id)
    for table in ("oauth_providers", "user_roles", "refresh_tokens", "user_tokens"):
        count = await db.fetchval(f"SELECT count(*) FROM identity.{table} WHERE user_id = $1", user_id)  # noqa: S608
        assert count == 0, table


async def test_oauth_links_roles_and_tokens_are_constrained(db: asyncpg.Connection) -> None:
    user_id = await _user(db)
    subject = uuid.uuid4().hex
    insert_link = "INSERT INTO identity.oauth_providers (user_id, provider, provider_user_id) VALUES ($1, $2, $3)"
    await db.execute(insert_link, user_id, "google", subject)
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(insert_link, await _user(db), "google", subject)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(insert_link, user_id, "myspace", subject)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("INSERT INTO identity.user_roles (user_id, role) VALUES ($1, 'superuser')", user_id)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            "INSERT INTO identity.user_tokens (user_id, purpose, token_hash, expires_at) "
            "VALUES ($1, 'magic_link', 'h', now() + interval '1 hour')",
            user_id,
        )
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute(insert_link, uuid.uuid4(), "tiktok", uuid.uuid4().hex)


async def test_at_most_one_active_signing_key(db: asyncpg.Connection, client: httpx.AsyncClient) -> None:
    # The running service has made its key; a second unretired one is refused.
    assert await db.fetchval("SELECT count(*) FROM identity.signing_keys WHERE retired_at IS NULL") == 1
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(
            "INSERT INTO identity.signing_keys (kid, public_jwk, private_key_encrypted) VALUES ('x', '{}', 'v1.x.y')"
        )


async def test_indexes_exist(db: asyncpg.Connection) -> None:
    indexes = {
        row["indexname"] for row in await db.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = 'identity'")
    }
    assert {
        "uq_users_email_lower",
        "uq_oauth_providers_provider_user",
        "ix_refresh_tokens_user_id",
        "ix_refresh_tokens_family_id",
        "uq_refresh_tokens_token_hash",
        "uq_user_tokens_token_hash",
        "uq_signing_keys_one_active",
    } <= indexes


async def test_events_are_published_by_the_relay(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    response = await client.post(
        "/auth/register", json={"email": new_email(), "password": "Secret-pass1", "name": "Relay"}
    )
    user_id = response.json()["id"]
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        published = await db.fetchval(
            "SELECT published_at IS NOT NULL FROM identity.outbox "
            "WHERE subject = 'parla.identity.user.registered' AND payload->>'subject_id' = $1",
            user_id,
        )
        if published:
            break
        assert asyncio.get_running_loop().time() < deadline, "the outbox relay never published the event"
        await asyncio.sleep(0.1)


async def test_erasure_reaches_jetstream(client: httpx.AsyncClient, test_env: TestEnvironment) -> None:
    """``user.deleted`` is what the other contexts erase on (FR-5): it must arrive on the identity stream."""
    _, headers = await user_with_token(client)
    me = (await client.get("/users/me", headers=headers)).json()
    assert (await client.delete("/users/me", headers=headers)).status_code == 204
    connection = await nats.connect(test_env.nats_url)
    try:
        js = connection.jetstream()
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            with contextlib.suppress(NotFoundError):
                message = await js.get_last_msg("PARLA_IDENTITY", "parla.identity.user.deleted")
                assert message.data is not None
                event = decode_event(message.data)
                if event.data["user_id"] == me["id"]:
                    break
            assert asyncio.get_running_loop().time() < deadline, "user.deleted never reached JetStream"
            await asyncio.sleep(0.1)
        assert event.data == {"user_id": me["id"], "deleted_by": me["id"], "reason": "self"}
        assert event.producer == "identity"
        assert str(event.actor_id) == me["id"]
    finally:
        await connection.close()


async def test_concurrent_registrations_of_one_email_create_one_account(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    address = new_email("race")
    body = {"email": address, "password": "Secret-pass1", "name": "Race"}
    responses = await asyncio.gather(*(client.post("/auth/register", json=body) for _ in range(4)))
    assert sorted(response.status_code for response in responses) == [201, 409, 409, 409]
    assert await db.fetchval("SELECT count(*) FROM identity.users WHERE lower(email) = lower($1)", address) == 1


async def test_concurrent_use_of_one_refresh_token_succeeds_once(client: httpx.AsyncClient) -> None:
    user = await register(client)
    pair = await login(client, user["email"])
    body = {"refresh_token": pair["refresh_token"]}
    responses = await asyncio.gather(*(client.post("/auth/refresh", json=body) for _ in range(3)))
    assert sorted(response.status_code for response in responses) == [200, 401, 401]


async def test_expired_refresh_tokens_are_found_by_index(db: asyncpg.Connection) -> None:
    """The housekeeping delete runs every minute on every replica; the table grows with every refresh."""
    async with db.transaction():
        await db.execute("SET LOCAL enable_seqscan = off")
        plan = await db.fetch("EXPLAIN DELETE FROM identity.refresh_tokens WHERE expires_at < now() - interval '1 day'")
    assert "ix_refresh_tokens_expires_at" in "\n".join(row[0] for row in plan)


async def test_user_tables_fail_closed_for_the_service_role(test_env: TestEnvironment, db: asyncpg.Connection) -> None:
    """NFR-8: identity's own login role sees a user's rows only acting for that user or on a named system path."""
    mine, theirs = await _user(db), await _user(db)
    for user in (mine, theirs):
        await db.execute("INSERT INTO identity.user_roles (user_id, role) VALUES ($1, 'admin')", user)
    service = await asyncpg.connect(test_env.service_dsn("identity"))
    try:
        for table in ("users", "user_roles", "oauth_providers", "refresh_tokens", "user_tokens"):
            assert await service.fetchval(f"SELECT count(*) FROM identity.{table}") == 0, table  # noqa: S608
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await service.execute("INSERT INTO identity.users (email, name) VALUES ($1, 'Nobody')", new_email())
        async with service.transaction():
            await service.execute("SELECT set_config('app.user_id', $1, true)", str(mine))
            seen = await service.fetch("SELECT id FROM identity.users WHERE id IN ($1, $2)", mine, theirs)
            assert [row["id"] for row in seen] == [mine]
            assert await service.execute("DELETE FROM identity.user_roles WHERE user_id = $1", theirs) == "DELETE 0"
        async with service.transaction():
            await service.execute("SELECT set_config('app.system_path', 'sign-in', true)")
            assert await service.fetchval("SELECT count(*) FROM identity.users WHERE id IN ($1, $2)", mine, theirs) == 2
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
            await service.execute("ALTER TABLE identity.users DISABLE ROW LEVEL SECURITY")
    finally:
        await service.close()
