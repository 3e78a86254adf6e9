"""The platform under fault: the devstack's services and infrastructure as ``conftest`` started them, with what a
case needs to reach into it (a child process, the supervisor, the database and JetStream as their admins see them).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import nats

from parla_devstack.platform import Infrastructure, Platform
from parla_devstack.processes import ChildProcess, wait_for_http_ok
from parla_devstack.supervisor import Supervisor
from parla_shared.provisioning.database import with_database

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "loadtests"))
from _course import CourseKey, course_answer_key

# A request still failing after this long means the platform did not recover by itself: the case fails.
RECOVERY_BOUND_SECONDS = 90.0


@dataclass
class FaultPlatform:
    infrastructure: Infrastructure
    platform: Platform
    dsns: dict[str, str]
    database: str
    supervisor: Supervisor
    supervisor_notices: list[str]
    _course: CourseKey | None = None

    @property
    def gateway_url(self) -> str:
        return self.platform.gateway_url

    @property
    def admin_dsn(self) -> str:
        """The server's superuser on the platform's database (sees every schema's rows)."""
        return with_database(self.infrastructure.admin_dsn, self.database)

    def child(self, name: str) -> ChildProcess:
        return next(child for child in self.platform.children if child.name == name)

    @contextlib.contextmanager
    def unsupervised(self, name: str) -> Iterator[None]:
        """The supervisor leaves ``name`` alone (a fault holds it down on purpose), then watches it again."""
        watched = next(entry for entry in self.supervisor.watched if entry.name == name)
        self.supervisor.watched.remove(watched)
        try:
            yield
        finally:
            watched.restart_at = None
            watched.started_at = time.monotonic()
            self.supervisor.watched.append(watched)

    def course(self) -> CourseKey:
        if self._course is None:
            self._course = course_answer_key(self.gateway_url)
        return self._course

    def wait_ready(self, timeout: float = RECOVERY_BOUND_SECONDS) -> None:
        """Every service ready through the gateway; one that is down is waited for (the supervisor restarts it)."""
        for service in self.platform.ports.services:
            wait_for_http_ok(f"{self.gateway_url}/api/{service}/ready", timeout=timeout, what=service)

    def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            connection = await asyncpg.connect(self.admin_dsn)
            try:
                return list(await connection.fetch(query, *args))
            finally:
                await connection.close()

        return asyncio.run(run())

    def fetchval(self, query: str, *args: Any) -> Any:
        rows = self.fetch(query, *args)
        return rows[0][0] if rows else None

    def stream_messages(self, stream: str) -> int:
        """How many messages JetStream holds in ``stream`` (a doubled publication would be one more)."""

        async def run() -> int:
            client = await nats.connect(self.infrastructure.admin_nats_url, connect_timeout=5)
            try:
                info = await client.jetstream().stream_info(stream)
                return int(info.state.messages)
            finally:
                await client.close()

        return asyncio.run(run())

    def unacknowledged(self, stream: str, durable: str) -> int:
        """Messages the durable consumer has delivered and nobody has acknowledged yet."""

        async def run() -> int:
            client = await nats.connect(self.infrastructure.admin_nats_url, connect_timeout=5)
            try:
                info = await client.jetstream().consumer_info(stream, durable)
                return int(info.num_ack_pending or 0) + int(info.num_pending or 0)
            finally:
                await client.close()

        return asyncio.run(run())
