"""Database access for a service: advanced-alchemy on asyncpg, own schema and role, the acting user per transaction."""

from __future__ import annotations

from typing import Any

from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    EngineConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
)
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction

from parla_shared.context import acting_user_id
from parla_shared.settings import ServiceSettings


# Every transaction of a request acting for a user carries that user's id in ``app.user_id``: row-level
# security policies on user tables read it, so a request for one learner cannot see or change another
# learner's rows, whatever the query says. Registered on ``Session`` itself because advanced-alchemy
# supplies its own sync session maker; every session in a service process belongs to that service.
@event.listens_for(Session, "after_begin")
def _set_acting_user(_session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    user_id = acting_user_id.get()
    if user_id is not None:
        connection.execute(text("SELECT set_config('app.user_id', :user_id, true)"), {"user_id": str(user_id)})


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
    """Pool of ``db_pool_min_size`` kept connections growing to ``db_pool_max_size`` (PRD: 5..20)."""
    options: dict[str, Any] = {
        **HIDE_PARAMETERS,
        "pool_size": settings.db_pool_min_size,
        "max_overflow": settings.db_pool_max_size - settings.db_pool_min_size,
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


def sqlalchemy_config(settings: ServiceSettings) -> SQLAlchemyAsyncConfig:
    """A request's session commits when the response is a success and rolls back otherwise."""
    return SQLAlchemyAsyncConfig(
        connection_string=settings.sqlalchemy_url,
        engine_config=engine_config(settings),
        session_config=AsyncSessionConfig(expire_on_commit=False),
        before_send_handler="autocommit",
        create_all=False,
    )


def sqlalchemy_plugin(config: SQLAlchemyAsyncConfig) -> SQLAlchemyPlugin:
    return SQLAlchemyPlugin(config=config)
