"""The system audit log and its tamper-evidence check (FR-22)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from parla_analytics.api.schemas import AuditPage, AuditVerificationRead
from parla_analytics.checkpoints import CheckpointFile
from parla_analytics.settings import AnalyticsSettings
from parla_analytics.use_cases import reports as queries
from parla_analytics.use_cases.audit_log import ChainVerification, verify_chain
from parla_shared.auth import requires_admin
from parla_shared.problems import Problem, problem_responses

# An ISO 8601 date and time, as the document says: a bare number is not taken for seconds since 1970.
ISO_DATE_TIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$"


def _utc(text: str | None, name: str) -> datetime | None:
    """The time in UTC; one given without an offset is UTC already (every time of this API is)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise Problem(400, "Invalid time", f"{name} must be an ISO 8601 date and time") from exc
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise Problem(400, "Time out of range", f"{name} is not a representable time in UTC") from exc


class AuditController(Controller):
    path = "/audit-log"
    tags = ["audit"]
    guards = [requires_admin]
    security = [{"BearerToken": []}]

    @get(
        "",
        summary="System audit entries, newest first (admin); filter by action, table and time",
        responses=problem_responses(400, 401, 403),
    )
    async def list_audit_log(
        self,
        db_session: NamedDependency[AsyncSession],
        *,
        action: FromQuery[str | None] = None,
        table: Annotated[str | None, QueryParameter(description="table_name of the entries")] = None,
        since: Annotated[
            str | None,
            QueryParameter(name="from", description="created at or after (ISO 8601)", pattern=ISO_DATE_TIME),
        ] = None,
        until: Annotated[
            str | None, QueryParameter(name="to", description="created before (ISO 8601)", pattern=ISO_DATE_TIME)
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> AuditPage:
        start, end = _utc(since, "from"), _utc(until, "to")
        if start is not None and end is not None and start > end:
            raise Problem(400, "Invalid time range", "from must not be after to")
        return await queries.audit_page(
            db_session, action=action, table_name=table, since=start, until=end, limit=limit, cursor=cursor
        )

    @get(
        "/verify",
        summary="Checks the hash chain of the whole audit log (admin)",
        responses=problem_responses(401, 403),
    )
    async def verify_audit_log(self, db_engine: NamedDependency[AsyncEngine], state: State) -> AuditVerificationRead:
        settings: AnalyticsSettings = state.settings
        checkpoint_file: CheckpointFile = state.audit_checkpoints
        # Read before the snapshot: a checkpoint is only ever written for a head already committed.
        checkpoints = await asyncio.to_thread(checkpoint_file.read)
        if checkpoints.forged_lines:
            result = ChainVerification(
                ok=False,
                checked=0,
                reason=f"checkpoint file line {checkpoints.forged_lines[0]} is not signed with the audit key: tampered",
            )
        else:
            # One snapshot for the chain head and the rows, so concurrent appends don't look like tampering.
            async with db_engine.connect() as connection:
                snapshot = await connection.execution_options(isolation_level="REPEATABLE READ")
                async with snapshot.begin():
                    result = await verify_chain(snapshot, settings.audit_key, checkpoints.checkpoints)
        return AuditVerificationRead(
            ok=result.ok,
            checked=result.checked,
            first_broken_id=result.first_broken_id,
            reason=result.reason,
            checkpoint_seq=result.checkpoint_seq,
        )
