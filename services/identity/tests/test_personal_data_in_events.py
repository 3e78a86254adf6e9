"""A deleted user's personal data does not live on in the JetStream stream (30 days) or the outbox."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import asyncpg
import httpx
import nats
import pytest
from conftest import login, new_email, register

from parla_shared.events.bus import stream_name
from parla_testing import TestEnvironment, bearer


async def _all_published(db: asyncpg.Connection, user_id: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    query = "SELECT count(*) FROM identity.outbox WHERE payload->>'subject_id' = $1 AND published_at IS NULL"
    while await db.fetchval(query, user_id):
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("identity's events were not published")
        await asyncio.sleep(0.1)


async def _stream_messages(nats_url: str) -> list[bytes]:
    """Every message stored in identity's stream, read with an ephemeral consumer."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        stored = (await js.stream_info(stream_name("identity"))).state.messages
        subscription = await js.pull_subscribe("parla.identity.>", stream=stream_name("identity"))
        messages: list[bytes] = []
        while len(messages) < stored:
            try:
                batch = await subscription.fetch(500, timeout=2)
            except TimeoutError:
                break
            messages += [message.data for message in batch]
        await subscription.unsubscribe()
        return messages
    finally:
        await connection.close()


async def test_no_email_or_name_of_a_deleted_user_stays_in_the_stream(
    client: httpx.AsyncClient, db: asyncpg.Connection, test_env: TestEnvironment
) -> None:
    marker = uuid4().hex[:12]
    address = new_email(f"erased-{marker}")
    name, new_name, avatar = f"Ada {marker}", f"Lovelace {marker}", f"https://cdn.example/{marker}.png"
    user = await register(client, address, name=name)
    headers = bearer((await login(client, address))["access_token"])
    changed = await client.patch(
        "/users/me", json={"name": new_name, "avatar_url": avatar, "timezone": "Europe/Madrid"}, headers=headers
    )
    assert changed.status_code == 200
    assert (await client.delete("/users/me", headers=headers)).status_code == 204
    await _all_published(db, user["id"])

    messages = await _stream_messages(test_env.nats_url)
    about_user = [message for message in messages if user["id"].encode() in message]
    # registered, logged_in, updated, deleted: the stream does hold the user's events…
    assert len(about_user) >= 4
    # …but none of them (nor any other message) holds the email, either name or the avatar.
    for secret in (address, address.lower(), marker):
        assert not [message for message in messages if secret.encode() in message], secret
    outbox = await db.fetch(
        "SELECT payload::text AS payload FROM identity.outbox WHERE payload::text LIKE $1", f"%{marker}%"
    )
    assert outbox == []
