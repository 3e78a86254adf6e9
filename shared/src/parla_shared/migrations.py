"""What every service's Alembic environment and first migration share.

The helpers here create version 1 of the shared messaging tables and triggers; a later change to them
gets a migration of its own rather than editing these.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from alembic import context, op
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

from parla_shared.events.tables import MessagingTables
from parla_shared.settings import asyncpg_sqlalchemy_url


def _database_url() -> str:
    url = os.environ.get("PARLA_DATABASE_URL") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("PARLA_DATABASE_URL is required to run migrations")
    return asyncpg_sqlalchemy_url(url)


def run_migrations(*, schema: str, target_metadata: MetaData | None = None) -> None:
    """The body of ``migrations/<service>/env.py``: the version table lives in the service's own schema."""

    def include_name(name: str | None, type_: str, _parent_names: Any) -> bool:
        return type_ != "schema" or name == schema

    options: dict[str, Any] = {
        "target_metadata": target_metadata,
        "version_table_schema": schema,
        "include_schemas": True,
        "include_name": include_name,
        "compare_type": True,
    }
    if context.is_offline_mode():
        context.configure(url=_database_url(), literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return

    def migrate(connection: Connection) -> None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()

    # The schema's owner role (``parla_<service>_owner``), taken for the whole session: every object the
    # migrations create belongs to it, and the service's login role only gets the DML its default privileges grant.
    role = os.environ.get("PARLA_MIGRATION_ROLE")
    connect_args = {"server_settings": {"role": role}} if role else {}

    async def run() -> None:
        engine = async_engine_from_config(
            {"sqlalchemy.url": _database_url()},
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
            connect_args=connect_args,
            hide_parameters=True,
        )
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
        await engine.dispose()

    asyncio.run(run())


def create_schema_support(schema: str) -> None:
    """The ``updated_at`` trigger function and the messaging tables, with the outbox's NOTIFY trigger."""
    op.execute(
        f"""
        CREATE FUNCTION {schema}.set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.updated_at = now();
            RETURN NEW;
        END $$
        """
    )
    tables = MessagingTables(schema)
    tables.metadata.create_all(op.get_bind())
    op.execute(
        f"""
        CREATE FUNCTION {schema}.notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{tables.notify_channel}', '');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        f"CREATE TRIGGER outbox_notify AFTER INSERT ON {schema}.outbox "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {schema}.notify_outbox()"
    )


def drop_schema_support(schema: str) -> None:
    MessagingTables(schema).metadata.drop_all(op.get_bind())
    op.execute(f"DROP FUNCTION IF EXISTS {schema}.notify_outbox()")
    op.execute(f"DROP FUNCTION IF EXISTS {schema}.set_updated_at()")


def add_updated_at_trigger(schema: str, table: str) -> None:
    op.execute(
        f"CREATE TRIGGER {table}_set_updated_at BEFORE UPDATE ON {schema}.{table} "
        f"FOR EACH ROW EXECUTE FUNCTION {schema}.set_updated_at()"
    )


def user_row_security_sql(schema: str, table: str, column: str = "user_id") -> list[str]:
    """Version 1 (progress 0002), superseded by ``fail_closed_row_security_sql``: rows visible to the acting
    user while ``app.user_id`` is set, and to anyone while it is not (failed open)."""
    acting = "NULLIF(current_setting('app.user_id', true), '')"
    return [
        f"ALTER TABLE {schema}.{table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {schema}.{table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {table}_acting_user ON {schema}.{table} "
        f"USING ({acting} IS NULL OR {column} = {acting}::uuid) "
        f"WITH CHECK ({acting} IS NULL OR {column} = {acting}::uuid)",
    ]


def enable_user_row_security(schema: str, table: str, column: str = "user_id") -> None:
    for statement in user_row_security_sql(schema, table, column):
        op.execute(statement)


# What the session sets per transaction (``parla_shared.db``): the acting user, or the name of a system path.
ACTING_USER = "NULLIF(current_setting('app.user_id', true), '')::uuid"
SYSTEM_PATH = "NULLIF(current_setting('app.system_path', true), '')"


def fail_closed_row_security_sql(schema: str, table: str, column: str = "user_id") -> list[str]:
    """Row-level security that fails closed: two named, permissive policies and nothing else.

    - ``<table>_acting_user``: the rows whose ``column`` is the acting user (``app.user_id``);
    - ``<table>_system_path``: every row, while the transaction names a system path (``app.system_path``: an
      event consumer, erasure, an admin read, a sign-in lookup — ``parla_shared.db.SystemPath``).
    With neither set a query sees no row and writes none. FORCE binds the table's owner too; the service's
    login role is no owner (it only has DML), so it cannot switch the policies off.
    """
    return [
        f"ALTER TABLE {schema}.{table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {schema}.{table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {table}_acting_user ON {schema}.{table} "
        f"USING ({column} = {ACTING_USER}) WITH CHECK ({column} = {ACTING_USER})",
        f"CREATE POLICY {table}_system_path ON {schema}.{table} "
        f"USING ({SYSTEM_PATH} IS NOT NULL) WITH CHECK ({SYSTEM_PATH} IS NOT NULL)",
    ]


def enable_fail_closed_row_security(schema: str, table: str, column: str = "user_id") -> None:
    for statement in fail_closed_row_security_sql(schema, table, column):
        op.execute(statement)


def disable_row_security(schema: str, table: str) -> None:
    op.execute(f"DROP POLICY IF EXISTS {table}_acting_user ON {schema}.{table}")
    op.execute(f"DROP POLICY IF EXISTS {table}_system_path ON {schema}.{table}")
    op.execute(f"ALTER TABLE {schema}.{table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {schema}.{table} DISABLE ROW LEVEL SECURITY")
