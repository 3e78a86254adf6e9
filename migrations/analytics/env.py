"""Alembic environment of the analytics service: version table and objects in the ``analytics`` schema only."""

from parla_shared.migrations import run_migrations

run_migrations(schema="analytics")
