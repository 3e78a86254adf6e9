"""Google and TikTok as identity meets them at sign-in, over real HTTP: Google's OpenID Connect discovery, JWKS,
authorize and token endpoints, TikTok's token and user-info endpoints (under ``/tiktok/``). Every token request is
checked for its code, redirect URI, PKCE verifier and client before anything is issued.

Who consents is the test's to say: ``grant`` gives a code for an authorization request the test read from
identity's redirect (the service suite), ``person`` is whoever a browser sent to ``/authorize`` consents as at
once (the browser suite)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, generate_private_key

from parla_testing.local_http import LocalHttpServer, Reply, Request

GOOGLE_CLIENT_ID = "google-client-id"
GOOGLE_CLIENT_SECRET = "google-client-secret"  # noqa: S105 - the test double's own client
TIKTOK_CLIENT_KEY = "tiktok-client-key"
TIKTOK_CLIENT_SECRET = "tiktok-client-secret"  # noqa: S105 - the test double's own client


def _s256(verifier: str) -> str:
    """PKCE's S256 code challenge of ``verifier``."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class SignInProvider(LocalHttpServer):
    """Serves on ``port`` (0: a free one) while entered; identity knows it by its ``url`` (Google's issuer)."""

    def __init__(
        self,
        port: int = 0,
        *,
        google_client: tuple[str, str] = (GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET),
        tiktok_client: tuple[str, str] = (TIKTOK_CLIENT_KEY, TIKTOK_CLIENT_SECRET),
    ) -> None:
        super().__init__(port)
        self.google_client = google_client
        self.tiktok_client = tiktok_client
        self.signing_key: RSAPrivateKey = generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "google-key"
        self.person: dict[str, Any] = {}
        self.grants: dict[str, dict[str, Any]] = {}
        self.tiktok_users: dict[str, dict[str, Any]] = {}
        self.issued_id_tokens = 0

    @property
    def url(self) -> str:
        return self.base_url

    def respond(self, request: Request) -> Reply:
        if request.method == "POST":
            return self.token(request.path, request.form())
        if request.path == "/.well-known/openid-configuration":
            return Reply(200, self.discovery())
        if request.path == "/jwks":
            return Reply(200, self.jwks())
        if request.path == "/authorize":
            return self.authorize(request.query())
        if request.path == "/tiktok/userinfo":
            user = self.tiktok_users.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
            if user is None:
                return Reply(401, {"error": {"code": "access_token_invalid"}})
            return Reply(200, {"data": {"user": user}, "error": {"code": "ok"}})
        return Reply(404, {"error": "not_found"})

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.signing_key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def grant(self, authorize_query: dict[str, list[str]], **user: Any) -> str:
        """The user consents: a code for the authorization request whose query is given."""
        return self._code({key: values[0] for key, values in authorize_query.items()}, user)

    def authorize(self, query: dict[str, str]) -> Reply:
        """``person`` consents at once: back to the client with a code bound to this request."""
        if query.get("client_id") != self.google_client[0] or query.get("code_challenge_method") != "S256":
            return Reply(400, {"error": "invalid_request"})
        code = self._code(query, dict(self.person))
        return Reply(302, location=f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}")

    def _code(self, query: dict[str, str], user: dict[str, Any]) -> str:
        code = secrets.token_urlsafe(16)
        self.grants[code] = {"query": query, "user": user}
        return code

    def token(self, path: str, form: dict[str, str]) -> Reply:
        grant = self.grants.pop(form.get("code", ""), None)
        if grant is None:
            return Reply(400, {"error": "invalid_grant"})
        query, user = grant["query"], grant["user"]
        if form.get("grant_type") != "authorization_code" or form.get("redirect_uri") != query["redirect_uri"]:
            return Reply(400, {"error": "invalid_request"})
        if _s256(form.get("code_verifier", "")) != query.get("code_challenge"):
            return Reply(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
        access, refresh = f"at-{secrets.token_hex(8)}", f"rt-{secrets.token_hex(8)}"
        if path == "/token":
            if (form.get("client_id"), form.get("client_secret")) != self.google_client:
                return Reply(401, {"error": "invalid_client"})
            return Reply(200, {**self._google_tokens(query, user), "access_token": access, "refresh_token": refresh})
        if path == "/tiktok/token":
            if (form.get("client_key"), form.get("client_secret")) != self.tiktok_client:
                return Reply(401, {"error": "invalid_client"})
            self.tiktok_users[access] = user
            return Reply(
                200,
                {
                    "access_token": access,
                    "refresh_token": refresh,
                    "expires_in": 86400,
                    "open_id": user["open_id"],
                    "scope": "user.info.basic",
                    "token_type": "Bearer",
                },
            )
        return Reply(404, {"error": "not_found"})

    def _google_tokens(self, query: dict[str, str], user: dict[str, Any]) -> dict[str, Any]:
        """The ID token of the person who consented; a test may override claims (``claims_override``, or any
        registered claim given with the user) or forge the signature (``sign_with``, another key)."""
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": self.google_client[0],
            "iat": now,
            "exp": now + 600,
            "nonce": query.get("nonce"),
            **user.pop("claims_override", {}),
            **user,
        }
        key = claims.pop("sign_with", None) or self.signing_key
        id_token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})
        self.issued_id_tokens += 1
        return {"expires_in": 3599, "token_type": "Bearer", "id_token": id_token}
