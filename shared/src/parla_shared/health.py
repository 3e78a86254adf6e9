"""Liveness and readiness: ``/health`` says the process answers, ``/ready`` that its database and NATS do."""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from parla_shared.events.bus import EventBus
from parla_shared.problems import Problem, problem_responses
from parla_shared.schema_version import SchemaVersion


class Health(msgspec.Struct, frozen=True):
    status: str
    service: str


class Readiness(msgspec.Struct, frozen=True):
    status: str
    service: str
    database: bool
    nats: bool
    schema_current: bool


async def database_reachable(engine: AsyncEngine, timeout: float = 2.0) -> bool:
    try:
        async with asyncio.timeout(timeout), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False
    return True


class HealthController(Controller):
    path = ""
    tags = ["operations"]

    @get("/health", summary="The process is alive")
    async def health(self, state: State) -> Health:
        return Health(status="ok", service=state.settings.service_name)

    @get(
        "/ready",
        summary="The database and NATS are reachable and the schema is at this version's migration head",
        responses=problem_responses(503),
    )
    async def ready(self, state: State, db_engine: NamedDependency[AsyncEngine]) -> Readiness:
        bus: EventBus = state.bus
        schema_version: SchemaVersion = state.schema_version
        database = await database_reachable(db_engine)
        schema_current = database and await schema_version.current(db_engine)
        ready = database and bus.connected and schema_current
        if not ready:
            raise Problem(
                503,
                "Service not ready",
                extra={"database": database, "nats": bus.connected, "schema_current": schema_current},
            )
        return Readiness(
            status="ready",
            service=state.settings.service_name,
            database=database,
            nats=bus.connected,
            schema_current=schema_current,
        )
