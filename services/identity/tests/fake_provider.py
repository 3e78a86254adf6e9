"""A local OAuth provider over real HTTP: OpenID Connect discovery, JWKS, token endpoint (with PKCE check),
and TikTok-style token and user-info endpoints. The tests decide what the user "consented" to with ``grant``."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, generate_private_key

GOOGLE_CLIENT_ID = "google-client-id"
GOOGLE_CLIENT_SECRET = "google-client-secret"
TIKTOK_CLIENT_KEY = "tiktok-client-key"
TIKTOK_CLIENT_SECRET = "tiktok-client-secret"


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class FakeProvider:
    def __init__(self) -> None:
        self.signing_key: RSAPrivateKey = generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "fake-google-key"
        self.grants: dict[str, dict[str, Any]] = {}
        self.tiktok_users: dict[str, dict[str, Any]] = {}
        self.token_requests: list[dict[str, str]] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _json(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/.well-known/openid-configuration":
                    self._json(200, provider.discovery())
                elif path == "/jwks":
                    self._json(200, provider.jwks())
                elif path == "/tiktok/userinfo":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    user = provider.tiktok_users.get(token)
                    if user is None:
                        self._json(401, {"error": {"code": "access_token_invalid"}})
                    else:
                        self._json(200, {"data": {"user": user}, "error": {"code": "ok"}})
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
                provider.token_requests.append(form)
                status, body = provider.token(urlsplit(self.path).path, form)
                self._json(status, body)

            def log_message(self, *_: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeProvider:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.signing_key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def grant(self, authorize_query: dict[str, list[str]], **user: Any) -> str:
        """The user consents: a code for the authorization request whose query is given."""
        code = secrets.token_urlsafe(16)
        self.grants[code] = {"query": {key: values[0] for key, values in authorize_query.items()}, "user": user}
        return code

    def id_token(self, claims: dict[str, Any], key: RSAPrivateKey | None = None) -> str:
        return jwt.encode(claims, key or self.signing_key, algorithm="RS256", headers={"kid": self.kid})

    def token(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = self.grants.pop(form.get("code", ""), None)
        if grant is None:
            return 400, {"error": "invalid_grant"}
        query, user = grant["query"], grant["user"]
        if form.get("grant_type") != "authorization_code" or form.get("redirect_uri") != query["redirect_uri"]:
            return 400, {"error": "invalid_request"}
        if s256(form.get("code_verifier", "")) != query.get("code_challenge"):
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        access, refresh = f"at-{secrets.token_hex(8)}", f"rt-{secrets.token_hex(8)}"
        if path == "/token":
            if (form.get("client_id"), form.get("client_secret")) != (GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET):
                return 401, {"error": "invalid_client"}
            now = int(time.time())
            claims = {
                "iss": self.url,
                "aud": GOOGLE_CLIENT_ID,
                "iat": now,
                "exp": now + 600,
                "nonce": query.get("nonce"),
                **user.pop("claims_override", {}),
                **user,
            }
            forged_with = claims.pop("sign_with", None)
            return 200, {
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": 3599,
                "token_type": "Bearer",
                "id_token": self.id_token(claims, forged_with),
            }
        if path == "/tiktok/token":
            if (form.get("client_key"), form.get("client_secret")) != (TIKTOK_CLIENT_KEY, TIKTOK_CLIENT_SECRET):
                return 401, {"error": "invalid_client"}
            self.tiktok_users[access] = user
            return 200, {
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": 86400,
                "open_id": user["open_id"],
                "scope": "user.info.basic",
                "token_type": "Bearer",
            }
        return 404, {"error": "not_found"}
