"""Identity as the other services' tests meet it: Ed25519 signing keys like identity's, the tokens they sign and a
real HTTP server publishing them (with identity's service-token grant and account standing)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parla_shared.auth import SERVICE_TOKEN_TYPE, service_audience
from parla_shared.secret_policy import DEV_SERVICE_CLIENT_SECRET
from parla_testing.local_http import LocalHttpServer, Reply, Request

TEST_ISSUER = "parla-identity"
TEST_AUDIENCE = "parla"

# ``make_token(user_id, roles=("admin",))`` → a valid access token (``SigningKey.token``).
TokenFactory = Callable[..., str]


class SigningKey:
    """An Ed25519 key like identity's, published by a real JWKS endpoint."""

    def __init__(self, key_id: str | None = None) -> None:
        self.key_id = key_id or uuid.uuid4().hex
        self.private_key = Ed25519PrivateKey.generate()

    def jwk(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.private_key.public_key()))
        return {**public, "kid": self.key_id, "use": "sig", "alg": "EdDSA"}

    def token(
        self,
        user_id: uuid.UUID,
        roles: tuple[str, ...] = (),
        *,
        lifetime: timedelta = timedelta(minutes=15),
        token_type: str | None = "at+jwt",  # noqa: S107 - a JOSE type, not a password
        **claims: Any,
    ) -> str:
        now = datetime.now(UTC)
        payload = {
            "iss": TEST_ISSUER,
            "aud": TEST_AUDIENCE,
            "sub": str(user_id),
            "iat": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "roles": list(roles),
            **claims,
        }
        headers = {"kid": self.key_id, **({"typ": token_type} if token_type else {})}
        return jwt.encode(payload, self.private_key, algorithm="EdDSA", headers=headers)

    def service_token(self, caller: str, audience: str, *, lifetime: timedelta = timedelta(minutes=5)) -> str:
        """What identity signs for ``caller`` to call the ``audience`` service."""
        now = datetime.now(UTC)
        payload = {
            "iss": TEST_ISSUER,
            "aud": service_audience(TEST_AUDIENCE, audience),
            "sub": f"service:{caller}",
            "client_id": caller,
            "iat": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": self.key_id, "typ": SERVICE_TOKEN_TYPE}
        return jwt.encode(payload, self.private_key, algorithm="EdDSA", headers=headers)


class JwksServer(LocalHttpServer):
    """Identity as the other services' tests meet it: its key publication, its service-token grant
    (``POST /internal/service-tokens``, the development client secret, signed with the first key;
    ``service_token_requests`` counts grants) and its account standing: every account holds the roles its token
    claims, except those in ``revoked_admins`` (no role) and ``deleted_accounts`` (gone)."""

    def __init__(self, keys: list[SigningKey], *, service_token_lifetime: timedelta = timedelta(minutes=5)) -> None:
        super().__init__()
        self.keys = keys
        self.service_token_lifetime = service_token_lifetime
        self.service_token_requests = 0
        self.revoked_admins: set[uuid.UUID] = set()
        self.deleted_accounts: set[uuid.UUID] = set()

    @property
    def url(self) -> str:
        return f"{self.base_url}/.well-known/jwks.json"

    def respond(self, request: Request) -> Reply:
        if request.method == "POST":
            return self._service_token(request.json())
        parts = request.path.strip("/").split("/")
        if parts[:2] == ["internal", "users"] and len(parts) == 4:
            user_id = uuid.UUID(parts[2])
            if user_id in self.deleted_accounts:
                return Reply(404)
            return Reply(200, {"user_id": str(user_id), "roles": [] if user_id in self.revoked_admins else ["admin"]})
        if parts == ["internal", "deleted-accounts"]:
            return Reply(200, {"user_ids": [str(user_id) for user_id in self.deleted_accounts]})
        return Reply(200, {"keys": [key.jwk() for key in self.keys]})

    def _service_token(self, grant: dict[str, Any]) -> Reply:
        self.service_token_requests += 1
        if grant.get("client_secret") != DEV_SERVICE_CLIENT_SECRET:
            return Reply(401)
        lifetime = self.service_token_lifetime
        token = self.keys[0].service_token(grant["client_id"], grant["audience"], lifetime=lifetime)
        return Reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": lifetime.seconds})
