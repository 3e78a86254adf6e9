"""Alembic environment of the curriculum service: version table and objects in the ``curriculum`` schema only."""

from parla_shared.migrations import run_migrations

run_migrations(schema="curriculum")
