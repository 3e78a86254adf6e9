"""Identity's token-signing keys: Ed25519, private halves sealed in the database, published as a JWKS.

The first start generates a key. Rotation makes a new key the active one and retires the old; a retired key
stays in the JWKS until every token it signed has expired (access-token lifetime plus a margin). Every
replica reloads the keys periodically, and at once when a token names a key id it does not know.
Identity verifies its own tokens through this store (a ``KeySource``), never over HTTP to itself.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from parla_identity.crypto import SecretBox
from parla_identity.models import SigningKey
from parla_identity.settings import IdentitySettings
from parla_shared.db import create_engine

ALGORITHM = "EdDSA"
RETIRED_KEY_MARGIN = timedelta(minutes=5)
_MIN_FORCED_RELOAD_SECONDS = 2.0
_log = structlog.get_logger("parla.identity.keys")


def private_key_context(kid: str) -> str:
    return f"identity.signing_keys.private_key_encrypted:{kid}"


def public_jwk(private_key: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private_key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": ALGORITHM}


class SigningKeyStore:
    """A ``parla_shared.auth.KeySource`` backed by identity's own ``signing_keys`` table."""

    def __init__(self, settings: IdentitySettings, box: SecretBox) -> None:
        self._settings = settings
        self._box = box
        self._engine: AsyncEngine | None = None
        self._public: dict[str, jwt.PyJWK] = {}
        self._jwks: list[dict[str, Any]] = []
        self._active: tuple[str, Ed25519PrivateKey] | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_engine(
                self._settings, "identity-keys", pool_size=1, max_overflow=1, pool_pre_ping=True
            )
        return self._engine

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    def _sessions(self) -> async_sessionmaker[AsyncSession]:
        return async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def database_transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction on identity's database over this store's own small pool, committed at the end
        and rolled back on an error: the key lifecycle's, and the operator commands' (which run without the
        service's engine)."""
        async with self._sessions()() as session, session.begin():
            yield session

    # --- KeySource -------------------------------------------------------------------------------------

    async def signing_keys(self, *, refresh: bool = False) -> dict[str, jwt.PyJWK]:
        max_age = _MIN_FORCED_RELOAD_SECONDS if refresh else self._settings.signing_keys_reload_seconds
        if not self._public or time.monotonic() - self._loaded_at >= max_age:
            await self.reload(older_than=max_age)
        return self._public

    # --- signing ---------------------------------------------------------------------------------------

    async def active_key(self) -> tuple[str, Ed25519PrivateKey]:
        max_age = self._settings.signing_keys_reload_seconds
        if self._active is None or time.monotonic() - self._loaded_at >= max_age:
            await self.reload(older_than=max_age)
        if self._active is None:
            await self.ensure_active_key()
        assert self._active is not None
        return self._active

    async def jwks(self) -> dict[str, Any]:
        await self.signing_keys()
        return {"keys": list(self._jwks)}

    # --- lifecycle -------------------------------------------------------------------------------------

    async def ensure_active_key(self) -> None:
        """Generate the first key, or rotate when the active one is older than the rotation period."""
        async with self.database_transaction() as session:
            await self._lock_keys(session)
            active = await session.scalar(select(SigningKey).where(SigningKey.retired_at.is_(None)))
            max_age = timedelta(days=self._settings.signing_key_rotation_days)
            if active is None or datetime.now(UTC) - active.created_at >= max_age:
                await self._rotate_locked(session)
        await self.reload()

    async def rotate(self) -> str:
        """A new active key; the previous one is retired but stays published until its tokens expire."""
        async with self.database_transaction() as session:
            await self._lock_keys(session)
            kid = await self._rotate_locked(session)
        await self.reload()
        return kid

    async def _lock_keys(self, session: AsyncSession) -> None:
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('identity.signing_keys'))"))

    async def _rotate_locked(self, session: AsyncSession) -> str:
        await session.execute(
            update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=text("now()"))
        )
        private_key = Ed25519PrivateKey.generate()
        kid = uuid.uuid4().hex
        raw = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        session.add(
            SigningKey(
                kid=kid,
                algorithm=ALGORITHM,
                public_jwk=public_jwk(private_key, kid),
                private_key_encrypted=self._box.seal(base64.b64encode(raw).decode(), context=private_key_context(kid)),
            )
        )
        await session.flush()
        _log.info("signing key created", kid=kid)
        return kid

    async def reload(self, *, older_than: float = 0.0) -> None:
        """Reads the published keys; with ``older_than``, only if no other task did so meanwhile (requests that
        find the cache stale together wait for one reload instead of each doing one)."""
        async with self._lock:
            if self._public and older_than and time.monotonic() - self._loaded_at < older_than:
                return
            published_since = datetime.now(UTC) - (
                timedelta(seconds=self._settings.access_token_ttl_seconds) + RETIRED_KEY_MARGIN
            )
            async with self._sessions()() as session:
                keys = (
                    await session.scalars(
                        select(SigningKey)
                        .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > published_since))
                        .order_by(SigningKey.created_at.desc())
                    )
                ).all()
            active: tuple[str, Ed25519PrivateKey] | None = None
            for key in keys:
                if key.retired_at is None:
                    raw = base64.b64decode(
                        self._box.open(key.private_key_encrypted, context=private_key_context(key.kid))
                    )
                    active = (key.kid, Ed25519PrivateKey.from_private_bytes(raw))
            self._jwks = [dict(key.public_jwk) for key in keys]
            self._public = {key.kid: jwt.PyJWK(dict(key.public_jwk)) for key in keys}
            self._active = active
            self._loaded_at = time.monotonic()
