"""Alembic environment of the identity service: version table and objects in the ``identity`` schema only."""

from parla_shared.migrations import run_migrations

run_migrations(schema="identity")
