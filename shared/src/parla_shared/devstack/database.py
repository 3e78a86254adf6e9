"""One database, a schema and a login role per service, and each service's migrations."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

SERVICES = ("identity", "curriculum", "progress", "analytics")


def role_name(service: str) -> str:
    return f"parla_{service}"


def with_database(dsn: str, database: str) -> str:
    return make_url(dsn).set(database=database).render_as_string(hide_password=False)


def role_dsn(admin_dsn: str, database: str, service: str, password: str) -> str:
    """The service's own connection: its login role on the shared database."""
    url = make_url(admin_dsn).set(username=role_name(service), password=password, database=database)
    return url.render_as_string(hide_password=False)


async def create_database(admin_dsn: str, database: str) -> None:
    connection = await asyncpg.connect(admin_dsn)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await connection.execute(f"CREATE DATABASE \"{database}\" ENCODING 'UTF8' TEMPLATE template0")
    finally:
        await connection.close()


async def drop_database(admin_dsn: str, database: str) -> None:
    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await connection.close()


async def bootstrap_roles_and_schemas(admin_dsn: str, database: str, passwords: Mapping[str, str]) -> None:
    """Idempotent: roles are created or get their password (one per role) reset; each owns only its own schema."""
    connection = await asyncpg.connect(with_database(admin_dsn, database))
    try:
        await connection.execute(
            f'REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE ALL ON DATABASE "{database}" FROM PUBLIC'
        )
        preloaded = await connection.fetchval("SELECT current_setting('shared_preload_libraries')")
        if "pg_stat_statements" in preloaded:
            # Query statistics for operators (docs/operations.md, "Slow queries"); needs the library
            # preloaded, which the embedded server and the CloudNativePG cluster do.
            await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        for service in SERVICES:
            role = role_name(service)
            exists = await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            quoted_password = await connection.fetchval("SELECT quote_literal($1)", passwords[service])
            await connection.execute(
                f"{verb} ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {quoted_password}"
            )
            await connection.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {role}')
            await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {service} AUTHORIZATION {role}")
            await connection.execute(f"REVOKE ALL ON SCHEMA {service} FROM PUBLIC")
    finally:
        await connection.close()


def migrations_dir(root: Path, service: str) -> Path:
    return root / "migrations" / service


def migrate(root: Path, service: str, dsn: str, revision: str = "head", *, direction: str = "upgrade") -> None:
    """Run the service's Alembic environment as the service's own role."""
    subprocess.run(  # noqa: S603 - fixed command
        [
            sys.executable,
            "-m",
            "alembic",
            "-c",
            str(migrations_dir(root, service) / "alembic.ini"),
            direction,
            revision,
        ],
        check=True,
        env={**os.environ, "PARLA_DATABASE_URL": dsn},
        cwd=root,
    )
