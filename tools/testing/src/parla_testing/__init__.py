"""Pytest plugin for every suite (``-p parla_testing``): the real servers ``parla-dev test`` prepared,
a real JWKS endpoint and tokens signed by it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import jwt
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parla_devstack.nats import EmbeddedNats
from parla_devstack.postgres import find_postgres_bin_dir
from parla_shared.auth import SERVICE_TOKEN_TYPE, service_audience
from parla_shared.events.permissions import nats_user, without_credentials
from parla_shared.provisioning.database import (
    bootstrap_roles_and_schemas,
    create_database,
    drop_database,
    migrate,
    role_dsn,
    with_database,
)
from parla_shared.secret_policy import DEV_SERVICE_CLIENT_SECRET
from parla_shared.settings import ServiceSettings

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
TEST_ISSUER = "parla-identity"
TEST_AUDIENCE = "parla"


@dataclass(frozen=True)
class TestEnvironment:
    """Where ``parla-dev test`` put this run's database and NATS."""

    __test__ = False

    admin_dsn: str
    nats_url: str  # as the devstack's admin user when the run's NATS requires authentication
    role_passwords: dict[str, str]
    root: Path
    # Each service's NATS password when the run's NATS requires authentication (empty otherwise).
    nats_passwords: dict[str, str] = field(default_factory=dict)

    @property
    def database(self) -> str:
        return self.admin_dsn.rsplit("/", 1)[-1]

    def service_dsn(self, service: str) -> str:
        return role_dsn(self.admin_dsn, self.database, service, self.role_passwords[service])

    def maintenance_dsn(self) -> str:
        return with_database(self.admin_dsn, "postgres")

    def nats_identity(self, service: str) -> dict[str, str]:
        """Settings that connect as ``service``'s own NATS user (``nats_url``, ``nats_user``, ``nats_password``)."""
        if service not in self.nats_passwords:
            return {"nats_url": self.nats_url}
        return {
            "nats_url": without_credentials(self.nats_url),
            "nats_user": nats_user(service),
            "nats_password": self.nats_passwords[service],
        }

    def settings(self, cls: type[SettingsT], data_dir: Path, **overrides: Any) -> SettingsT:
        service = next(field.default for field in msgspec.structs.fields(cls) if field.name == "service_name")
        values: dict[str, Any] = {
            "database_url": self.service_dsn(service),
            **self.nats_identity(service),
            "data_dir": str(data_dir),
            "environment": "test",
            "log_json": False,
            "log_level": "WARNING",
            "outbox_poll_seconds": 0.2,
        }
        values.update(overrides)
        return cls.from_env({}, **values)


@pytest.fixture(scope="session")
def test_env() -> TestEnvironment:
    try:
        return TestEnvironment(
            admin_dsn=os.environ["PARLA_TEST_ADMIN_DSN"],
            nats_url=os.environ["PARLA_TEST_NATS_URL"],
            role_passwords=json.loads(os.environ["PARLA_TEST_ROLE_PASSWORDS"]),
            nats_passwords=json.loads(os.environ.get("PARLA_TEST_NATS_PASSWORDS") or "{}"),
            root=Path(os.environ["PARLA_TEST_ROOT"]),
        )
    except KeyError as missing:
        pytest.fail(f"{missing} is not set: run the tests with `make test` (parla-dev test), which prepares them")


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


class JwksServer:
    """Identity as the other services' tests meet it: its key publication, its service-token grant
    (``POST /internal/service-tokens``, the development client secret, signed with the first key;
    ``service_token_requests`` counts grants) and its account standing: every account holds the roles its token
    claims, except those in ``revoked_admins`` (no role) and ``deleted_accounts`` (gone)."""

    def __init__(self, keys: list[SigningKey], *, service_token_lifetime: timedelta = timedelta(minutes=5)) -> None:
        self.keys = keys
        self.service_token_requests = 0
        self.revoked_admins: set[uuid.UUID] = set()
        self.deleted_accounts: set[uuid.UUID] = set()
        server_keys = keys
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                if parts[:2] == ["internal", "users"] and len(parts) == 4:
                    user_id = uuid.UUID(parts[2])
                    if user_id in owner.deleted_accounts:
                        self.send_response(404)
                        self.end_headers()
                        return
                    roles = [] if user_id in owner.revoked_admins else ["admin"]
                    answer: dict[str, Any] = {"user_id": str(user_id), "roles": roles}
                elif parts == ["internal", "deleted-accounts"]:
                    answer = {"user_ids": [str(user_id) for user_id in owner.deleted_accounts]}
                else:
                    answer = {"keys": [key.jwk() for key in server_keys]}
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                owner.service_token_requests += 1
                if request.get("client_secret") != DEV_SERVICE_CLIENT_SECRET:
                    self.send_response(401)
                    self.end_headers()
                    return
                token = server_keys[0].service_token(
                    request["client_id"], request["audience"], lifetime=service_token_lifetime
                )
                body = json.dumps(
                    {"access_token": token, "token_type": "Bearer", "expires_in": service_token_lifetime.seconds}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/.well-known/jwks.json"

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey()


@pytest.fixture(scope="session")
def jwks_server(signing_key: SigningKey) -> Iterator[JwksServer]:
    with JwksServer([signing_key]) as server:
        yield server


TokenFactory = Callable[..., str]


@pytest.fixture(scope="session")
def make_token(signing_key: SigningKey) -> TokenFactory:
    """``make_token(user_id, roles=("admin",))`` → a valid access token."""
    return signing_key.token


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RestartableNats:
    """A NATS server of a test's own, so the test can stop and restart it under running clients."""

    def __init__(self, store: Path, log: Path) -> None:
        self.server = EmbeddedNats(store, free_port(), log)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[RestartableNats]:
    nats = RestartableNats(tmp_path / "nats", tmp_path / "nats.log")
    nats.start()
    yield nats
    nats.stop()


async def _server_version_num(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval("SHOW server_version_num"))
    finally:
        await connection.close()


def given_server_major_version(dsn: str) -> int:
    return asyncio.run(_server_version_num(dsn)) // 10000


def given_server_bin_dir(dsn: str, purpose: str) -> tuple[Path, int]:
    """The programs of the ``dsn`` server's major version on this machine, for a private cluster of that version
    (that server itself is only asked its version); fails naming the Debian package when they are missing."""
    major = given_server_major_version(dsn)
    bin_dir = find_postgres_bin_dir(major)
    if bin_dir is None:
        pytest.fail(
            f"PARLA_DATABASE_URL's server is PostgreSQL {major}, but PostgreSQL {major}'s server programs "
            f"(initdb, pg_ctl, postgres, pg_basebackup, pg_archivecleanup) are not on this machine "
            f"(not in /usr/lib/postgresql/{major}/bin, no pg_config of that version): install the Debian "
            f"package postgresql-{major} (apt-get install postgresql-{major}) to {purpose} on that version",
            pytrace=False,
        )
    return bin_dir, major


class BehindGateway:
    """An app as the gateway on the same host reaches it: the peer is 127.0.0.1 (a trusted proxy by default), so
    ``X-Forwarded-For`` counts as it does in production. Litestar's test client would say ``testclient``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "client": ("127.0.0.1", 50000)}
        await self.app(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def wait_until_ready(client: Any, timeout: float = 30.0) -> None:
    """The app's NATS connection is made in the background: wait for ``/ready``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (await client.get("/ready")).status_code != 200:
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("service did not become ready")
        await asyncio.sleep(0.1)


class ServiceContract:
    """What every service answers the same way. A service's suite runs it with ``class TestX(ServiceContract)``,
    its conftest providing the ``client`` fixture (an ``AsyncTestClient`` of the service's app) and ``service``."""

    async def test_health(self, client: Any, service: str) -> None:
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "service": service}

    async def test_ready_checks_database_and_nats(self, client: Any) -> None:
        await wait_until_ready(client)
        body = (await client.get("/ready")).json()
        assert body["database"] is True
        assert body["nats"] is True
        assert body["schema_current"] is True

    async def test_openapi_document(self, client: Any, service: str) -> None:
        document = (await client.get("/schema/openapi.json")).json()
        assert document["info"]["title"] == f"Parla {service} API"
        assert document["servers"] == [{"url": f"/api/{service}"}]
        assert "/health" in document["paths"]

    async def test_every_operation_has_a_readable_unique_operation_id(self, client: Any) -> None:
        """operationIds become SDK method names: lowerCamelCase identifiers, one per operation."""
        document = (await client.get("/schema/openapi.json")).json()
        ids = [
            operation["operationId"]
            for item in document["paths"].values()
            for method, operation in item.items()
            if method in ("get", "put", "post", "delete", "patch")
        ]
        assert len(ids) == len(set(ids)), sorted(name for name in ids if ids.count(name) > 1)
        assert all(re.fullmatch(r"[a-z][A-Za-z0-9]*", name) for name in ids), ids

    async def test_metrics(self, client: Any) -> None:
        await client.get("/health")
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert "parla_requests_total" in response.text

    async def test_unknown_route_is_problem_json(self, client: Any) -> None:
        response = await client.get("/no/such/route")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 404
        assert {"title", "detail"} <= response.json().keys()

    async def test_request_id_is_echoed_or_minted(self, client: Any) -> None:
        given = await client.get("/health", headers={"X-Request-ID": "req-123"})
        assert given.headers["x-request-id"] == "req-123"
        minted = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
        assert minted.headers["x-request-id"] not in ("", "bad id with spaces")

    async def test_garbage_token_is_rejected(self, client: Any) -> None:
        response = await client.get("/health", headers=bearer("not-a-jwt"))
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_migrations_go_down_to_base_and_up_again(self, test_env: TestEnvironment, service: str) -> None:
        database = f"parla_mig_{uuid.uuid4().hex[:8]}"
        await create_database(test_env.maintenance_dsn(), database)
        try:
            await bootstrap_roles_and_schemas(test_env.maintenance_dsn(), database, test_env.role_passwords)
            admin_dsn = with_database(test_env.admin_dsn, database)
            for direction, revision in (("upgrade", "head"), ("downgrade", "base"), ("upgrade", "head")):
                await asyncio.to_thread(migrate, test_env.root, service, admin_dsn, revision, direction=direction)
            connection = await asyncpg.connect(with_database(test_env.admin_dsn, database))
            try:
                tables = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", service)
            finally:
                await connection.close()
            assert {"outbox", "inbox", "dead_letters", "alembic_version"} <= {row["tablename"] for row in tables}
        finally:
            await drop_database(test_env.maintenance_dsn(), database)
