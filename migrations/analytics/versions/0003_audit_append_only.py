"""The audit log is append-only: UPDATE/DELETE/TRUNCATE revoked and refused by a trigger (FR-22).

The role that appends (the one migrating, and PUBLIC) loses UPDATE, DELETE and TRUNCATE on the log and on every
monthly partition, including the ones partition maintenance makes later. A trigger refuses any UPDATE, DELETE or
TRUNCATE whoever runs it (a superuser or an owner who grants the privileges back included), except the one delete
partition maintenance makes: moving rows out of the default partition into a new month, which re-inserts them
(the default partition keeps DELETE for that). Whoever can drop the trigger (the owner) is caught by the keyed
hash chain and its checkpoints outside the database.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "analytics"


def _revision_0002() -> ModuleType:
    path = Path(__file__).with_name("0002_activity_audit_rollups.py")
    spec = importlib.util.spec_from_file_location("analytics_0002", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ENSURE_PARTITIONS_0002: str = _revision_0002().ENSURE_PARTITIONS
# The same function, revoking the changing privileges on each new month of the audit log.
ENSURE_PARTITIONS = ENSURE_PARTITIONS_0002.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION").replace(
    "        made := made + 1;\n",
    "        IF parent = 'system_audit_log' THEN\n"
    "            EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON analytics.%I FROM PUBLIC, CURRENT_USER',\n"
    "                           partition_name);\n"
    "        END IF;\n"
    "        made := made + 1;\n",
)

# The outermost frame of the call stack must be ensure_monthly_partitions itself (called as a statement): a
# statement's text can quote anything, but it can't be the last line of the stack.
REFUSE_CHANGE = r"""
CREATE FUNCTION analytics.refuse_audit_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stack text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        GET DIAGNOSTICS stack = PG_CONTEXT;
        IF regexp_replace(stack, '^.*\n', '') ~
           '^PL/pgSQL function (analytics\.)?ensure_monthly_partitions\(text,integer,date\) line [0-9]+ at EXECUTE$'
        THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'the system audit log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$
"""


def _audit_partitions() -> str:
    return (
        f"SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        f"WHERE i.inhparent = '{S}.system_audit_log'::regclass"
    )


def upgrade() -> None:
    op.execute(ENSURE_PARTITIONS)
    op.execute(REFUSE_CHANGE)
    op.execute(
        f"CREATE TRIGGER system_audit_log_append_only BEFORE UPDATE OR DELETE ON {S}.system_audit_log "
        f"FOR EACH ROW EXECUTE FUNCTION {S}.refuse_audit_log_change()"
    )
    op.execute(
        f"CREATE TRIGGER system_audit_log_no_truncate BEFORE TRUNCATE ON {S}.system_audit_log "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {S}.refuse_audit_log_change()"
    )
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {S}.system_audit_log FROM PUBLIC, CURRENT_USER")
    op.execute(
        f"""
        DO $$
        DECLARE partition_name text;
        BEGIN
            FOR partition_name IN {_audit_partitions()} AND c.relname <> 'system_audit_log_default' LOOP
                EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON {S}.%I FROM PUBLIC, CURRENT_USER', partition_name);
            END LOOP;
        END $$
        """
    )
    op.execute(f"REVOKE UPDATE, TRUNCATE ON {S}.system_audit_log_default FROM PUBLIC, CURRENT_USER")


def downgrade() -> None:
    op.execute(f"DROP TRIGGER IF EXISTS system_audit_log_no_truncate ON {S}.system_audit_log")
    op.execute(f"DROP TRIGGER IF EXISTS system_audit_log_append_only ON {S}.system_audit_log")
    op.execute(f"DROP FUNCTION IF EXISTS {S}.refuse_audit_log_change()")
    op.execute(f"GRANT UPDATE, DELETE, TRUNCATE ON {S}.system_audit_log TO CURRENT_USER")
    op.execute(
        f"""
        DO $$
        DECLARE partition_name text;
        BEGIN
            FOR partition_name IN {_audit_partitions()} LOOP
                EXECUTE format('GRANT UPDATE, DELETE, TRUNCATE ON {S}.%I TO CURRENT_USER', partition_name);
            END LOOP;
        END $$
        """
    )
    op.execute(ENSURE_PARTITIONS_0002.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
