"""The tests every service passes the same way."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any, ClassVar

import asyncpg

from parla_shared.provisioning.database import (
    bootstrap_roles_and_schemas,
    create_database,
    drop_database,
    migrate,
    with_database,
)
from parla_testing.apps import bearer, wait_until_ready
from parla_testing.environment import TestEnvironment


class ServiceContract:
    """What every service answers the same way. A service's suite runs it with ``class TestX(ServiceContract)``,
    its conftest providing the ``client`` fixture (a test client of the service's app) and ``settings`` (whose
    ``service_name`` is the ``service`` fixture)."""

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

    # What a generated SDK calls each of the service's own operations ((method, path) → operationId): renaming a
    # handler renames its SDK method, so each service's suite lists them and changing one is a visible decision.
    sdk_methods: ClassVar[dict[tuple[str, str], str]]

    async def test_each_operation_keeps_its_sdk_method_name(self, client: Any) -> None:
        document = (await client.get("/schema/openapi.json")).json()
        operation_ids = {
            (method, path): operation["operationId"]
            for path, item in document["paths"].items()
            for method, operation in item.items()
            if not path.startswith(("/health", "/ready", "/metrics", "/schema"))
        }
        assert operation_ids == self.sdk_methods

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
