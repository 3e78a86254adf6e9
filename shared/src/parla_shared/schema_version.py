"""Whether the database schema has reached the migration head this image ships (``/ready`` waits for it).

A new pod must not take traffic before the release's migrations ran; an old pod must keep serving after
they ran (migrations are expand/contract). So a schema at this image's head, or at a revision this image
does not know (a newer one), is current; a known older revision, or none, is behind.
"""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine


class SchemaVersion:
    def __init__(self, schema: str, migrations_dir: Path) -> None:
        ini = migrations_dir / "alembic.ini"
        if not ini.is_file():
            raise FileNotFoundError(f"no Alembic environment at {ini} (set PARLA_MIGRATIONS_DIR)")
        script = ScriptDirectory(str(migrations_dir))  # script_location is the directory itself
        self.schema = schema
        self.heads = frozenset(script.get_heads())
        self.known = frozenset(revision.revision for revision in script.walk_revisions())
        # Schemas only move forward, so once current it stays current: later probes cost no query.
        self._reached = False

    def judge(self, versions: set[str]) -> bool:
        return bool(versions) and (self.heads <= versions or not versions <= self.known)

    async def current(self, engine: AsyncEngine) -> bool:
        if self._reached:
            return True
        try:
            async with engine.connect() as connection:
                query = f'SELECT version_num FROM "{self.schema}".alembic_version'  # noqa: S608 - our schema name
                rows = await connection.execute(text(query))
                versions = {str(row[0]) for row in rows}
        except DBAPIError:  # no version table yet: nothing migrated
            return False
        self._reached = self.judge(versions)
        return self._reached
