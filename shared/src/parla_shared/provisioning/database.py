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
    """The service's login role: data (DML) only, never the owner of what it reads and writes."""
    return f"parla_{service}"


def owner_role(service: str) -> str:
    """Owns the service's schema and every object in it; runs its migrations. Cannot log in (NOLOGIN): the
    migration connects as the administrator and takes this role for the session."""
    return f"parla_{service}_owner"


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
            await _bootstrap_service(connection, database, service, passwords[service])
    finally:
        await connection.close()


async def _bootstrap_service(connection: asyncpg.Connection, database: str, service: str, password: str) -> None:
    role, owner = role_name(service), owner_role(service)
    # NOBYPASSRLS on both: row-level security binds the service role, and nothing here may switch it off.
    for name, attributes in ((owner, "NOLOGIN"), (role, "LOGIN")):
        exists = await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name)
        verb = "ALTER" if exists else "CREATE"
        await connection.execute(f"{verb} ROLE {name} {attributes} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS")
    quoted_password = await connection.fetchval("SELECT quote_literal($1)", password)
    await connection.execute(f"ALTER ROLE {role} PASSWORD {quoted_password}")
    # The administrator running the migrations takes the owner role (on a managed server it is no superuser).
    await connection.execute(f"GRANT {owner} TO CURRENT_USER")
    await connection.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {role}')
    schema_owner = await connection.fetchval(
        "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1", service
    )
    await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {service} AUTHORIZATION {owner}")
    await connection.execute(f"REVOKE ALL ON SCHEMA {service} FROM PUBLIC")
    await connection.execute(f"GRANT USAGE ON SCHEMA {service} TO {role}")
    # Data, not structure: no CREATE on the schema, no TRUNCATE/REFERENCES/TRIGGER, no ownership (so no ALTER
    # TABLE … DISABLE ROW LEVEL SECURITY). Tables the owner's migrations make get these through its default
    # privileges; a migration may take some back (the audit log's UPDATE/DELETE), so they are not re-granted here.
    dml = "SELECT, INSERT, UPDATE, DELETE"
    if schema_owner == role:
        # Once, for a database made before the owner roles existed: the login role owned everything.
        await connection.execute(f"ALTER SCHEMA {service} OWNER TO {owner}")
        await connection.execute(f"REASSIGN OWNED BY {role} TO {owner}")
        await connection.execute(f"GRANT {dml} ON ALL TABLES IN SCHEMA {service} TO {role}")
        await connection.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {service} TO {role}")
    await connection.execute(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {service} GRANT {dml} ON TABLES TO {role}"
    )
    await connection.execute(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {service} GRANT USAGE, SELECT ON SEQUENCES TO {role}"
    )


def migrations_dir(root: Path, service: str) -> Path:
    return root / "migrations" / service


def migrate(root: Path, service: str, admin_dsn: str, revision: str = "head", *, direction: str = "upgrade") -> None:
    """Run the service's Alembic environment as the schema's owner role (``admin_dsn`` names the database)."""
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
        env={**os.environ, "PARLA_DATABASE_URL": admin_dsn, "PARLA_MIGRATION_ROLE": owner_role(service)},
        cwd=root,
    )
