"""A local OpenID Connect provider for "Continue with Google" in the browser: discovery, JWKS, an authorize page
that consents at once for one configured person (a 302 back to the redirect URI with a code), and a token
endpoint that checks the client, the redirect URI and PKCE before it signs an ID token. identity talks to it
exactly as to Google (``PARLA_OAUTH_GOOGLE_ISSUER``)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key


class OidcProvider:
    def __init__(self, port: int, client_id: str, client_secret: str) -> None:
        self.issuer = f"http://127.0.0.1:{port}"
        self.client_id = client_id
        self.client_secret = client_secret
        self.person: dict[str, Any] = {}
        self.codes: dict[str, dict[str, str]] = {}
        self.issued_id_tokens = 0
        self._key = generate_private_key(public_exponent=65537, key_size=2048)
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: object = None, location: str | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/.well-known/openid-configuration":
                    self._send(200, provider.discovery())
                elif url.path == "/jwks":
                    self._send(200, provider.jwks())
                elif url.path == "/authorize":
                    query = {key: values[0] for key, values in parse_qs(url.query).items()}
                    status, location = provider.authorize(query)
                    self._send(status, None if location else {"error": "invalid_request"}, location)
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
                self._send(*provider.token(form))

            def log_message(self, *_: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OidcProvider:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        return {"keys": [{**public, "kid": "browser-suite", "use": "sig", "alg": "RS256"}]}

    def authorize(self, query: dict[str, str]) -> tuple[int, str | None]:
        """The person consents at once: back to the client with a code bound to this request."""
        if query.get("client_id") != self.client_id or query.get("code_challenge_method") != "S256":
            return 400, None
        code = secrets.token_urlsafe(16)
        self.codes[code] = query
        return 302, f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        request = self.codes.pop(form.get("code", ""), None)
        if request is None:
            return 400, {"error": "invalid_grant"}
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client"}
        verifier_hash = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if form.get("redirect_uri") != request["redirect_uri"] or (
            base64.urlsafe_b64encode(verifier_hash).rstrip(b"=").decode() != request["code_challenge"]
        ):
            return 400, {"error": "invalid_grant"}
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 600, "nonce": request["nonce"]}
        id_token = jwt.encode({**claims, **self.person}, self._key, algorithm="RS256", headers={"kid": "browser-suite"})
        self.issued_id_tokens += 1
        return 200, {
            "access_token": secrets.token_hex(8),
            "token_type": "Bearer",
            "expires_in": 3600,
            "id_token": id_token,
        }
