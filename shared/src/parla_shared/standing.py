"""Account standing from identity: current roles (checked on admin requests) and recently deleted accounts (kept in
memory in every service, so a deleted account's tokens stop working at once without a per-request round trip).

Deleted accounts reach every replica two ways: identity's ``NOTIFY parla_deleted_accounts, '<user id>'`` in the
transaction that deletes the account (one database, so every service's listener hears it as it commits), and a
periodic full copy from identity (``GET /internal/deleted-accounts``) for a replica that starts later or missed a
notification while disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from uuid import UUID

import asyncpg
import httpx
import msgspec
import structlog

from parla_shared.auth import AccountStanding
from parla_shared.problems import Problem
from parla_shared.service_tokens import ServiceTokens

DELETED_ACCOUNTS_CHANNEL = "parla_deleted_accounts"
_log = structlog.get_logger("parla.standing")


class AccountRoles(msgspec.Struct, frozen=True):
    user_id: UUID
    roles: list[str]


class DeletedAccountList(msgspec.Struct, frozen=True):
    user_ids: list[UUID]


class IdentityStanding:
    """``AccountStanding`` over HTTP: identity's internal routes, called with this service's own service token."""

    def __init__(self, identity_url: str, tokens: ServiceTokens, *, timeout: float = 3.0) -> None:
        self._base_url = identity_url.rstrip("/")
        self._tokens = tokens
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await self._tokens.close()

    async def _get(self, path: str) -> httpx.Response:
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self._base_url, timeout=self._timeout)
        headers = {"Authorization": f"Bearer {await self._tokens.token('identity')}"}
        try:
            response = await self._client.get(path, headers=headers)
        except httpx.HTTPError as exc:
            _log.warning("identity unreachable", path=path, error=str(exc) or type(exc).__name__)
            raise _unavailable() from exc
        if response.status_code in (401, 403):
            self._tokens.forget("identity")
        return response

    async def roles_of(self, user_id: UUID) -> tuple[str, ...] | None:
        response = await self._get(f"/internal/users/{user_id}/roles")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            _log.warning("identity refused a role check", status=response.status_code)
            raise _unavailable()
        return tuple(msgspec.json.decode(response.content, type=AccountRoles).roles)

    async def deleted_accounts(self) -> set[UUID]:
        response = await self._get("/internal/deleted-accounts")
        if response.status_code != 200:
            raise _unavailable()
        return set(msgspec.json.decode(response.content, type=DeletedAccountList).user_ids)


def _unavailable() -> Problem:
    # Fail closed: without identity's word, admin power is not granted.
    return Problem(503, "Identity unavailable", "the account's standing could not be checked; try again")


class DeletedAccounts:
    """The ids of recently deleted accounts, in memory (``user_id in deleted_accounts``)."""

    def __init__(self) -> None:
        self._ids: frozenset[UUID] = frozenset()
        self._notified_at: dict[UUID, float] = {}

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._ids

    def _on_notification(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            user_id = UUID(payload)
        except ValueError:
            return
        self._ids = self._ids | {user_id}
        self._notified_at[user_id] = time.monotonic()

    async def sync(self, standing: AccountStanding) -> None:
        """Identity's list replaces ours, keeping what was notified while it was being fetched."""
        started = time.monotonic()
        fetched = await standing.deleted_accounts()
        recent = {user_id for user_id, at in self._notified_at.items() if at >= started}
        self._ids = frozenset(fetched | recent)
        self._notified_at = {user_id: self._notified_at[user_id] for user_id in recent}

    async def run(self, listen_dsn: str, standing: AccountStanding, sync_seconds: float) -> None:
        """Background task: listen for deletions and copy identity's list every ``sync_seconds``."""
        while True:
            listener: asyncpg.Connection | None = None
            try:
                listener = await asyncpg.connect(listen_dsn)
                await listener.add_listener(DELETED_ACCOUNTS_CHANNEL, self._on_notification)
            except (OSError, asyncpg.PostgresError) as exc:
                _log.warning("cannot listen for deleted accounts; copying the list only", error=str(exc))
                listener = None
            try:
                while True:
                    # After LISTEN, so a deletion committed in between is in the list or in a notification.
                    try:
                        await self.sync(standing)
                    except Exception as exc:  # noqa: BLE001 - retried on the next round
                        _log.warning("deleted accounts sync failed", error=str(exc))
                    await asyncio.sleep(sync_seconds)
                    if listener is None or listener.is_closed():
                        break  # listen again
            finally:
                if listener is not None:
                    with contextlib.suppress(Exception):
                        await listener.close()
