"""``python -m parla_identity.cli seed-learners``: bulk load-test accounts whose refresh tokens work via the API."""

from __future__ import annotations

import json
import secrets
import stat
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from conftest import events_of, login
from sqlalchemy.engine import make_url

from parla_identity import events
from parla_identity.cli import seed_learner_accounts
from parla_identity.seeding import SEED_PASSWORD, seed_learners
from parla_identity.settings import IdentitySettings
from parla_identity.use_cases.context import Identity
from parla_shared.events.outbox import Outbox
from parla_shared.events.tables import MessagingTables
from parla_shared.problems import Problem
from parla_testing import bearer


async def refreshed(client: httpx.AsyncClient, refresh_token: str) -> dict[str, Any]:
    response = await client.post("/auth/refresh", json={"refresh_token": refresh_token})
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


async def test_seeded_accounts_refresh_their_tokens_through_the_api(
    settings: IdentitySettings,
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    out = tmp_path / "seed" / "accounts.json"
    message = await seed_learner_accounts(settings, 3, 1, out)
    assert "3 learners and 1 admins (4 new)" in message
    assert stat.S_IMODE(out.stat().st_mode) == 0o600, "the file holds live credentials"
    seeded = json.loads(out.read_text())
    assert [a["email"] for a in seeded["learners"]] == [
        "learner-000001@load.parla.test",
        "learner-000002@load.parla.test",
        "learner-000003@load.parla.test",
    ]
    assert [a["email"] for a in seeded["admins"]] == ["admin-000001@load.parla.test"]

    for account, roles in [*((a, []) for a in seeded["learners"]), (seeded["admins"][0], ["admin"])]:
        pair = await refreshed(client, account["refresh_token"])
        me = await client.get("/users/me", headers=bearer(pair["access_token"]))
        assert me.status_code == 200, me.text
        assert (me.json()["id"], me.json()["email"]) == (account["user_id"], account["email"])
        assert (me.json()["is_email_verified"], me.json()["roles"]) == (True, roles)
        # The rotated token was used up, as after any refresh: presenting it again is reuse.
        again = await client.post("/auth/refresh", json={"refresh_token": account["refresh_token"]})
        assert again.status_code == 401
        registered = await events_of(db, events.USER_REGISTERED, account["user_id"])
        assert [(event["version"], event["data"]["method"]) for event in registered] == [(2, "password")]
        assert len(await events_of(db, events.USER_EMAIL_VERIFIED, account["user_id"])) == 1
    # One shared hash of a known password: the accounts log in like any other.
    await login(client, seeded["learners"][1]["email"], SEED_PASSWORD)

    # A second run reuses the accounts (no new events) and hands out new, working tokens.
    assert "(0 new)" in await seed_learner_accounts(settings, 2, 0, out)
    again = json.loads(out.read_text())
    assert [a["user_id"] for a in again["learners"]] == [a["user_id"] for a in seeded["learners"][:2]]
    assert again["admins"] == []
    for account in again["learners"]:
        assert account["refresh_token"] not in {a["refresh_token"] for a in seeded["learners"]}
        await refreshed(client, account["refresh_token"])
        assert len(await events_of(db, events.USER_REGISTERED, account["user_id"])) == 1


async def test_seeding_is_refused_in_production_and_for_bad_counts(settings: IdentitySettings) -> None:
    # Real-looking production settings (weak or default secrets would stop them before the command could refuse).
    production = msgspec.structs.replace(
        settings,
        environment="production",
        identity_secret_key=secrets.token_urlsafe(48),
        admin_password=secrets.token_urlsafe(16),
        database_url=make_url(settings.database_url)
        .set(password=secrets.token_urlsafe(48))
        .render_as_string(hide_password=False),
        bcrypt_rounds=12,
    )
    for current, learners, status in [(production, 1, 409), (settings, 0, 422)]:
        identity = Identity.from_settings(current)
        outbox = Outbox(MessagingTables("identity"), producer="identity")
        try:
            async with identity.keys.database_transaction() as session:
                with pytest.raises(Problem) as refused:
                    await seed_learners(identity, session, outbox, learners)
            assert refused.value.status_code == status
        finally:
            await identity.keys.close()
