"""Servers of a test's own: a NATS it can stop and restart, a PostgreSQL cluster of a given server's version."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from parla_devstack.nats import EmbeddedNats
from parla_devstack.postgres import find_postgres_bin_dir
from parla_devstack.processes import free_port


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
