"""Activity and audit logs (partitioned by month, partitions made ahead), the audit hash chain, and rollups.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "analytics"
GENESIS_HASH = "0" * 64

# Creates the monthly partitions [start month, start month + months_ahead] of a table partitioned by
# created_at, if missing. Rows of those months already in the default partition move into the new one
# (ATTACH would fail otherwise). Returns how many partitions it made.
ENSURE_PARTITIONS = """
CREATE FUNCTION analytics.ensure_monthly_partitions(
    parent text,
    months_ahead integer,
    start_month date DEFAULT date_trunc('month', now() AT TIME ZONE 'UTC')::date
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    month_start date;
    lower_bound timestamptz;
    upper_bound timestamptz;
    partition_name text;
    made integer := 0;
BEGIN
    FOR i IN 0..months_ahead LOOP
        month_start := (date_trunc('month', start_month) + make_interval(months => i))::date;
        partition_name := format('%s_y%sm%s', parent, to_char(month_start, 'YYYY'), to_char(month_start, 'MM'));
        CONTINUE WHEN to_regclass(format('analytics.%I', partition_name)) IS NOT NULL;
        -- Two app replicas may race here: one of them waits for the other's lock, then sees the table.
        PERFORM pg_advisory_xact_lock(hashtext('analytics.partitions.' || parent));
        CONTINUE WHEN to_regclass(format('analytics.%I', partition_name)) IS NOT NULL;
        lower_bound := make_timestamptz(
            extract(year FROM month_start)::int, extract(month FROM month_start)::int, 1, 0, 0, 0, 'UTC');
        upper_bound := lower_bound + interval '1 month';
        EXECUTE format('CREATE TABLE analytics.%I (LIKE analytics.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       partition_name, parent);
        EXECUTE format('WITH moved AS (DELETE FROM analytics.%I WHERE created_at >= $1 AND created_at < $2 RETURNING *) '
                       'INSERT INTO analytics.%I SELECT * FROM moved', parent || '_default', partition_name)
            USING lower_bound, upper_bound;
        EXECUTE format('ALTER TABLE analytics.%I ATTACH PARTITION analytics.%I FOR VALUES FROM (%L) TO (%L)',
                       parent, partition_name, lower_bound, upper_bound);
        made := made + 1;
    END LOOP;
    RETURN made;
END $$
"""


def upgrade() -> None:
    # FR-19: every learner action. No FK to identity's users (another context): user ids are plain UUIDs.
    # id is the id of the event that produced the row, so one event makes at most one row.
    op.execute(
        f"""
        CREATE TABLE {S}.user_activity_log (
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            user_id uuid NOT NULL,
            activity_type varchar(100) NOT NULL,
            activity_data jsonb,
            ip_address inet,
            user_agent text,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT user_activity_log_pkey PRIMARY KEY (id, created_at),
            CONSTRAINT ck_user_activity_log_activity_type CHECK (activity_type <> '')
        ) PARTITION BY RANGE (created_at)
        """
    )
    op.execute(
        f"CREATE INDEX idx_user_activity_log_user_id ON {S}.user_activity_log (user_id, created_at DESC, id DESC)"
    )
    op.execute(f"CREATE INDEX idx_user_activity_log_activity_type ON {S}.user_activity_log (activity_type)")
    op.execute(f"CREATE INDEX idx_user_activity_log_created_at ON {S}.user_activity_log (created_at)")

    # FR-22: administrative and content changes, hash-chained in `seq` order.
    op.execute(
        f"""
        CREATE TABLE {S}.system_audit_log (
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            seq bigint NOT NULL,
            admin_user_id uuid,
            action varchar(100) NOT NULL,
            table_name varchar(100),
            record_id uuid,
            old_values jsonb,
            new_values jsonb,
            ip_address inet,
            created_at timestamptz NOT NULL DEFAULT now(),
            prev_hash char(64) NOT NULL,
            hash char(64) NOT NULL,
            CONSTRAINT system_audit_log_pkey PRIMARY KEY (id, created_at),
            CONSTRAINT ck_system_audit_log_seq CHECK (seq > 0),
            CONSTRAINT ck_system_audit_log_hash CHECK (hash ~ '^[0-9a-f]{{64}}$')
        ) PARTITION BY RANGE (created_at)
        """
    )
    op.execute(f"CREATE INDEX idx_system_audit_log_admin_user_id ON {S}.system_audit_log (admin_user_id)")
    op.execute(f"CREATE INDEX idx_system_audit_log_table_name ON {S}.system_audit_log (table_name, created_at)")
    op.execute(f"CREATE INDEX idx_system_audit_log_action ON {S}.system_audit_log (action, created_at)")
    op.execute(f"CREATE INDEX idx_system_audit_log_created_at ON {S}.system_audit_log (created_at, seq)")
    op.execute(f"CREATE INDEX idx_system_audit_log_seq ON {S}.system_audit_log (seq)")

    # The head of the chain: locked FOR UPDATE by every append, so appends are serialized in commit order.
    op.execute(
        f"""
        CREATE TABLE {S}.audit_chain_head (
            id smallint PRIMARY KEY CHECK (id = 1),
            last_seq bigint NOT NULL,
            last_hash char(64) NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(f"INSERT INTO {S}.audit_chain_head (id, last_seq, last_hash) VALUES (1, 0, '{GENESIS_HASH}')")
    op.execute(
        f"CREATE TRIGGER audit_chain_head_set_updated_at BEFORE UPDATE ON {S}.audit_chain_head "
        f"FOR EACH ROW EXECUTE FUNCTION {S}.set_updated_at()"
    )

    op.execute(ENSURE_PARTITIONS)
    for table in ("user_activity_log", "system_audit_log"):
        op.execute(f"CREATE TABLE {S}.{table}_default PARTITION OF {S}.{table} DEFAULT")
        op.execute(f"SELECT {S}.ensure_monthly_partitions('{table}', 3)")

    # Rollups (FR-20, FR-21), updated in the consumer's transaction with INSERT … ON CONFLICT DO UPDATE.
    op.execute(
        f"""
        CREATE TABLE {S}.lesson_stats (
            lesson_id uuid PRIMARY KEY,
            course_id uuid,
            starts bigint NOT NULL DEFAULT 0 CHECK (starts >= 0),
            completions bigint NOT NULL DEFAULT 0 CHECK (completions >= 0),
            score_sum numeric NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(f"CREATE INDEX idx_lesson_stats_course_id ON {S}.lesson_stats (course_id)")
    op.execute(
        f"""
        CREATE TABLE {S}.exercise_stats (
            exercise_id uuid NOT NULL,
            lesson_id uuid NOT NULL,
            attempts bigint NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            correct bigint NOT NULL DEFAULT 0 CHECK (correct >= 0 AND correct <= attempts),
            time_spent_seconds_sum numeric NOT NULL DEFAULT 0 CHECK (time_spent_seconds_sum >= 0),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (lesson_id, exercise_id)
        )
        """
    )
    # Who was active on which (UTC) day: per-user rows, erased with the user; the count stays (anonymous).
    op.execute(
        f"""
        CREATE TABLE {S}.daily_active_learners (
            activity_date date NOT NULL,
            user_id uuid NOT NULL,
            PRIMARY KEY (activity_date, user_id)
        )
        """
    )
    op.execute(f"CREATE INDEX idx_daily_active_learners_user_id ON {S}.daily_active_learners (user_id)")
    op.execute(
        f"""
        CREATE TABLE {S}.daily_active_counts (
            activity_date date PRIMARY KEY,
            learners bigint NOT NULL CHECK (learners >= 0)
        )
        """
    )
    # Weekly signup cohorts: week = the Monday (UTC) starting the ISO week.
    op.execute(
        f"""
        CREATE TABLE {S}.user_signups (
            user_id uuid PRIMARY KEY,
            cohort_week date NOT NULL CHECK (extract(isodow FROM cohort_week) = 1),
            signed_up_at timestamptz NOT NULL
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE {S}.user_active_weeks (
            user_id uuid NOT NULL,
            week_start date NOT NULL CHECK (extract(isodow FROM week_start) = 1),
            PRIMARY KEY (user_id, week_start)
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE {S}.cohort_sizes (
            cohort_week date PRIMARY KEY,
            signups bigint NOT NULL CHECK (signups >= 0)
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE {S}.cohort_retention (
            cohort_week date NOT NULL,
            week_number integer NOT NULL CHECK (week_number >= 0),
            learners bigint NOT NULL CHECK (learners >= 0),
            PRIMARY KEY (cohort_week, week_number)
        )
        """
    )
    # Users erased (FR-5): a late event about them must not bring their activity back.
    op.execute(
        f"""
        CREATE TABLE {S}.erased_users (
            user_id uuid PRIMARY KEY,
            erased_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    for table in ("lesson_stats", "exercise_stats"):
        op.execute(
            f"CREATE TRIGGER {table}_set_updated_at BEFORE UPDATE ON {S}.{table} "
            f"FOR EACH ROW EXECUTE FUNCTION {S}.set_updated_at()"
        )


def downgrade() -> None:
    for table in (
        "erased_users",
        "cohort_retention",
        "cohort_sizes",
        "user_active_weeks",
        "user_signups",
        "daily_active_counts",
        "daily_active_learners",
        "exercise_stats",
        "lesson_stats",
        "audit_chain_head",
        "system_audit_log",
        "user_activity_log",
    ):
        op.execute(f"DROP TABLE IF EXISTS {S}.{table} CASCADE")
    op.execute(f"DROP FUNCTION IF EXISTS {S}.ensure_monthly_partitions(text, integer, date)")
