"""``idx_user_exercise_interactions_session_id`` on ``(session_id, exercise_id)`` instead of ``(session_id)``.

An answer counts the learner's earlier attempts at the exercise in this session under the learner's lock. On
``session_id`` alone that read every answer of the session and filtered by exercise; a session's answers arrive
minutes apart among everyone else's, so each sits on a heap page of its own and the count cost a page per answer
already given (docs/performance.md, "Data growth"). With the exercise in the key it reads the attempts only; reads
of a whole session use the same index by its first column.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "progress"
TABLE = "user_exercise_interactions"
INDEX = "idx_user_exercise_interactions_session_id"


def upgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE, schema=SCHEMA)
    op.create_index(INDEX, TABLE, ["session_id", "exercise_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE, schema=SCHEMA)
    op.create_index(INDEX, TABLE, ["session_id"], schema=SCHEMA)
