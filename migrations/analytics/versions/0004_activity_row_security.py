"""Row-level security on the activity log, and partitions made by the schema's owner.

- ``user_activity_log`` gets the fail-closed acting-user and system-path policies
  (``parla_shared.migrations.fail_closed_row_security_sql``): a learner reads their own rows, consumers and
  admin routes name their system path, anything else sees none.
- Its partitions get row-level security without policies: read directly (not through the parent), they show
  the service role nothing.
- ``ensure_monthly_partitions`` runs as its owner (SECURITY DEFINER, fixed search_path): the service role,
  which keeps the partitions ready, no longer owns the tables it would attach them to. Since the owner's
  default privileges give the service role (``parla_analytics``) DML on every new table, the audit log's
  partitions revoke UPDATE, DELETE and TRUNCATE from it as well (0003 revoked them from the role migrating,
  which was then the service role); the move out of the default partition is the owner's, inside the function.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

from parla_shared.migrations import disable_row_security, enable_fail_closed_row_security

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "analytics"
SERVICE_ROLE = "parla_analytics"  # parla_shared.provisioning.database.role_name("analytics")
SIGNATURE = f"{S}.ensure_monthly_partitions(text, integer, date)"


def _revision_0003() -> ModuleType:
    path = Path(__file__).with_name("0003_audit_append_only.py")
    spec = importlib.util.spec_from_file_location("analytics_0003", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ENSURE_PARTITIONS_0003: str = _revision_0003().ENSURE_PARTITIONS
# 0003's function, plus: a new month of a table with row-level security gets it too, and a new month of the
# audit log loses the changing privileges for the service role as well.
ENSURE_PARTITIONS = ENSURE_PARTITIONS_0003.replace(
    "FROM PUBLIC, CURRENT_USER'", f"FROM PUBLIC, CURRENT_USER, {SERVICE_ROLE}'"
).replace(
    "        made := made + 1;\n",
    "        IF (SELECT relrowsecurity FROM pg_class WHERE oid = format('analytics.%I', parent)::regclass) THEN\n"
    "            EXECUTE format('ALTER TABLE analytics.%I ENABLE ROW LEVEL SECURITY', partition_name);\n"
    "        END IF;\n"
    "        made := made + 1;\n",
)
assert ENSURE_PARTITIONS.count(SERVICE_ROLE) == 1
assert "ENABLE ROW LEVEL SECURITY" in ENSURE_PARTITIONS


def _each_partition(parent: str, statement: str) -> None:
    """``statement`` (with ``%s`` for the partition) on every partition of ``parent``."""
    op.execute(
        f"""
        DO $$
        DECLARE child regclass;
        BEGIN
            FOR child IN SELECT inhrelid::regclass FROM pg_inherits
                         WHERE inhparent = '{S}.{parent}'::regclass LOOP
                EXECUTE format('{statement}', child);
            END LOOP;
        END $$
        """
    )


def upgrade() -> None:
    op.execute(ENSURE_PARTITIONS)
    op.execute(f"ALTER FUNCTION {SIGNATURE} SECURITY DEFINER SET search_path = pg_catalog, pg_temp")
    enable_fail_closed_row_security(S, "user_activity_log")
    _each_partition("user_activity_log", "ALTER TABLE %s ENABLE ROW LEVEL SECURITY")
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {S}.system_audit_log FROM {SERVICE_ROLE}")
    _each_partition("system_audit_log", f"REVOKE UPDATE, DELETE, TRUNCATE ON %s FROM {SERVICE_ROLE}")


def downgrade() -> None:
    _each_partition("user_activity_log", "ALTER TABLE %s DISABLE ROW LEVEL SECURITY")
    disable_row_security(S, "user_activity_log")
    op.execute(f"ALTER FUNCTION {SIGNATURE} SECURITY INVOKER RESET search_path")
    op.execute(ENSURE_PARTITIONS_0003)
