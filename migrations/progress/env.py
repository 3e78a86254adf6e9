"""Alembic environment of the progress service: version table and objects in the ``progress`` schema only."""

from parla_shared.migrations import run_migrations

run_migrations(schema="progress")
