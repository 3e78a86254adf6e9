"""Database access for a service: advanced-alchemy on asyncpg, own schema and role, the acting user per transaction."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from enum import StrEnum
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import structlog
from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    EngineConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
)
from advanced_alchemy.extensions.litestar._utils import get_aa_scope_state
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Message, Receive, Scope, Send
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction

from parla_shared.context import acting_user_id, system_path
from parla_shared.problems import PROBLEM_JSON
from parla_shared.settings import ServiceSettings

_log = structlog.get_logger("parla.db")


class SystemPath(StrEnum):
    """The work that may read and write every user's rows, by name (the ``*_system_path`` policies).

    Anything else sees only the acting user's rows, or none (docs/decisions.md, "Security: secrets and
    row-level security").
    """

    # An event's effect or a dead letter, in a consumer (erasure on ``user.deleted`` included).
    CONSUMER = "consumer"
    # An administrator's route reading or changing other users' rows (``requires_admin`` guards it).
    ADMIN = "admin"
    # Identity before a user is known: registration, login and token lookups by email or token hash.
    SIGN_IN = "sign-in"
    # Operator commands (create-admin, reseal-secrets) and seeds.
    OPERATOR = "operator"
    # A service's own periodic clean-up of expired rows (identity's expired tokens).
    HOUSEKEEPING = "housekeeping"


def route_system_path(path: SystemPath) -> dict[str, SystemPath]:
    """A route handler's ``opt``: its transactions run ``path`` (read by ``AuthenticationMiddleware``)."""
    return {"system_path": path}


SET_SYSTEM_PATH = text("SELECT set_config('app.system_path', :path, true)")
SET_ACTING = text("SELECT set_config('app.user_id', :user_id, true), set_config('app.system_path', :path, true)")


async def name_system_path(connection: AsyncConnection, path: SystemPath) -> None:
    """For work on a bare connection (no ORM session): the rest of its transaction runs ``path``."""
    await connection.execute(SET_SYSTEM_PATH, {"path": path.value})


@contextmanager
def running_system_path(path: SystemPath) -> Iterator[None]:
    """Transactions begun inside the block name ``path`` (consumers, CLIs, seeds)."""
    token = system_path.set(path)
    try:
        yield
    finally:
        system_path.reset(token)


# Every transaction carries who it acts for in one statement, when it begins: ``app.user_id`` (the
# authenticated user) and ``app.system_path`` (a named system path). Row-level security policies read them:
# with neither, user tables show no row. Registered on ``Session`` itself because advanced-alchemy supplies its
# own sync session maker; every session in a service process belongs to that service.
@event.listens_for(Session, "after_begin")
def _set_acting_user(_session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    user_id = acting_user_id.get()
    path = system_path.get()
    if user_id is None and path is None:
        return
    connection.execute(SET_ACTING, {"user_id": "" if user_id is None else str(user_id), "path": path or ""})


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session's transaction, for a hot path written in SQL.

    The session begins its transaction first, so the acting user is set for row-level security (``after_begin``)
    and the statements sent here commit or roll back with the session. SQL on the driver skips SQLAlchemy's
    statement compilation and result processing, most of a short request's CPU (docs/performance.md).
    """
    connection = await session.connection()
    driver: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
    if not driver.is_in_transaction():
        # Only a transaction with an acting user or a system path has begun on the server (``_set_acting_user``).
        raise RuntimeError("driver_connection needs a transaction acting for a user or a named system path")
    return driver


@asynccontextmanager
async def acting_transaction(engine: AsyncEngine, user_id: UUID) -> AsyncIterator[asyncpg.Connection]:
    """A transaction acting for ``user_id`` on a pooled connection's asyncpg driver, for a hot path written in SQL.

    No ORM session: the transaction begins and names its user (row-level security) in one round trip, commits
    when the block ends and rolls back when it raises, a problem response included.
    """
    async with engine.connect() as connection:
        driver: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
        # A UUID's text is hex digits and dashes only: safe to write into the statement, which lets BEGIN and the
        # settings travel in one simple-query round trip (bound parameters would need one of their own).
        await driver.execute(
            f"BEGIN; SELECT set_config('app.user_id', '{UUID(str(user_id))}', true), "
            "set_config('app.system_path', '', true)"
        )
        try:
            yield driver
        except BaseException:
            try:
                await driver.execute("ROLLBACK")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await connection.invalidate()  # unusable: the pool must not hand it out again
            raise
        await driver.execute("COMMIT")


# Bound parameters are passwords, token hashes, emails and answers: SQLAlchemy leaves them out of its log lines
# and exception messages (which reach our logs and problem responses' logs) for every engine a service makes.
HIDE_PARAMETERS = {"hide_parameters": True}


def create_engine(settings: ServiceSettings, application_name: str, **options: Any) -> AsyncEngine:
    """An engine outside the request pool (CLIs, identity's key store) with the same safety options."""
    return create_async_engine(
        settings.sqlalchemy_url,
        connect_args={"server_settings": {"search_path": settings.db_schema, "application_name": application_name}},
        **{**HIDE_PARAMETERS, **options},
    )


def engine_config(settings: ServiceSettings, **overrides: Any) -> EngineConfig:
    """A pool of at most ``db_pool_max_size`` connections, each kept once opened (PRD: 5..20); ``warm_pool`` opens
    the first ``db_pool_min_size`` at start-up.

    No overflow: SQLAlchemy closes an overflow connection as soon as it is returned, so under load beyond the pool
    size every few requests paid for a new server process, its authentication and its prepared statements
    (docs/performance.md, "Connections kept").
    """
    options: dict[str, Any] = {
        **HIDE_PARAMETERS,
        "pool_size": settings.db_pool_max_size,
        "max_overflow": 0,
        # No pre-ping: it costs a round trip on every checkout. A connection the server closed fails its first
        # statement instead; SQLAlchemy then invalidates the pool, so one request sees the error, not each one.
        # Overload is shed before the pool (overload.py): a request waiting this long is answered 503.
        "pool_timeout": settings.db_pool_timeout_seconds,
        "pool_recycle": 1800,
        "connect_args": {
            "server_settings": {"search_path": settings.db_schema, "application_name": settings.service_name},
        },
    }
    options.update(overrides)
    return EngineConfig(**options)


async def warm_pool(engine: AsyncEngine, connections: int) -> None:
    """Opens ``connections`` of the pool (the PRD's minimum), which keeps them; a database not up yet is no error:
    requests open connections as they need them."""
    try:
        async with contextlib.AsyncExitStack() as opened:
            for _ in range(connections):
                await opened.enter_async_context(engine.connect())
    except (OSError, SQLAlchemyError) as exc:
        structlog.get_logger("parla.db").warning("database pool not warmed", error=str(exc))


def sqlalchemy_config(settings: ServiceSettings) -> SQLAlchemyAsyncConfig:
    """A request's session commits when the response is a success and rolls back otherwise."""
    return SQLAlchemyAsyncConfig(
        connection_string=settings.sqlalchemy_url,
        engine_config=engine_config(settings),
        session_config=AsyncSessionConfig(expire_on_commit=False),
        before_send_handler="autocommit",
        create_all=False,
    )


NOT_SAVED_DETAIL = "The change could not be saved (the database did not confirm it); send the request again."


class CommitBeforeRespondingMiddleware(ASGIMiddleware):
    """A success leaves the process only after its transaction has committed; a failed commit is a 503.

    advanced-alchemy's ``autocommit`` handler commits while the status line is on its way out and, when the commit
    fails (PostgreSQL restarting, the connection lost), only logs it at debug level: the client is told 200 for a
    change that is not there (found by the fault suite, tests/faults). This commits first, holding the status line
    back; when the commit fails the response becomes a ``503`` problem with ``Retry-After`` and the handler's body is
    dropped. A commit whose confirmation was lost may still have happened: a retry with the same
    ``Idempotency-Key`` then returns the stored answer. The ``autocommit`` handler still closes the session.
    """

    scopes = ("http",)  # type: ignore[assignment]

    def __init__(self, config: SQLAlchemyAsyncConfig) -> None:
        # advanced-alchemy makes the key unique per configuration in a process (tests build many apps).
        self.session_scope_key = config.session_scope_key

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        refused = False

        async def send_after_commit(message: Message) -> None:
            nonlocal refused
            if refused:
                return  # the handler's own body: the client has the 503 instead
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                session: AsyncSession | None = get_aa_scope_state(scope, self.session_scope_key)
                if session is not None and session.in_transaction():
                    try:
                        await session.commit()
                    except Exception as exc:  # noqa: BLE001 - any failed commit: the change is not saved
                        refused = True
                        _log.warning("commit failed: answered 503", error=str(exc) or type(exc).__name__)
                        await _send_not_saved(send)
                        return
            await send(message)

        await next_app(scope, receive, send_after_commit)


async def _send_not_saved(send: Send) -> None:
    body = msgspec.json.encode({"status": 503, "title": "Service Unavailable", "detail": NOT_SAVED_DETAIL})
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 503,
        "headers": [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", b"1"),
        ],
    }
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(start)
    await send(end)


def sqlalchemy_plugin(config: SQLAlchemyAsyncConfig) -> SQLAlchemyPlugin:
    return SQLAlchemyPlugin(config=config)
