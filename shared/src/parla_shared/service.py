"""One way to build a Parla service's Litestar app, so every service is wired the same."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme, Server
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.types import ControllerRouterHandler
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from parla_shared.auth import (
    AccountStanding,
    AuthenticationMiddleware,
    HttpJwksKeySource,
    KeySource,
    TokenVerifier,
    provide_principal,
    service_audience,
)
from parla_shared.db import CommitBeforeRespondingMiddleware, sqlalchemy_config, sqlalchemy_plugin, warm_pool
from parla_shared.events.bus import EventBus
from parla_shared.events.consumer import EventConsumer, Subscription, expire_dead_letters
from parla_shared.events.outbox import Outbox, OutboxRelay
from parla_shared.events.permissions import inbox_prefix
from parla_shared.events.tables import MessagingTables
from parla_shared.health import HealthController
from parla_shared.logging import configure_logging
from parla_shared.middleware import RequestContextMiddleware
from parla_shared.openapi import document_problems, operation_id
from parla_shared.operational_metrics import OperationalMetrics
from parla_shared.overload import InFlightLimitMiddleware, pool_timeout_response
from parla_shared.problems import fallback_exception_handlers, problem_details_plugin
from parla_shared.schema_version import SchemaVersion
from parla_shared.service_tokens import ServiceTokens
from parla_shared.settings import ServiceSettings, SettingsError
from parla_shared.standing import DeletedAccounts, IdentityStanding

BackgroundTask = Callable[[Litestar], Coroutine[Any, Any, None]]
SHUTDOWN_GRACE_SECONDS = 5.0


@dataclass
class ServiceDefinition:
    """What makes one service different from another; everything else is shared wiring."""

    settings: ServiceSettings
    description: str
    route_handlers: Sequence[ControllerRouterHandler]
    subscriptions: Sequence[Subscription] = ()
    key_source: KeySource | None = None
    # Who answers for accounts now (admin checks, deleted accounts): identity over HTTP unless given (identity itself).
    account_standing: AccountStanding | None = None
    # This service's credential for calling others; given when the service also uses it itself (one token cache).
    service_tokens: ServiceTokens | None = None
    dependencies: dict[str, Provide] = field(default_factory=dict)
    background_tasks: Sequence[BackgroundTask] = ()
    state: dict[str, Any] = field(default_factory=dict)


def plain_dsn(url: str) -> str:
    """A libpq-style URL (for asyncpg itself) from a SQLAlchemy one."""
    return re.sub(r"^postgres(ql)?\+asyncpg://", "postgresql://", url)


class _MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False


def build_service_app(definition: ServiceDefinition) -> Litestar:
    settings = definition.settings
    name = settings.service_name
    configure_logging(name, settings.log_level, json=settings.log_json)

    db_config = sqlalchemy_config(settings)
    tables = MessagingTables(settings.db_schema)
    outbox = Outbox(tables, producer=name)
    # A service creates its own stream only (its NATS identity may create no other); its consumers wait for the
    # streams they read until their producers have made them.
    bus = EventBus(
        settings.nats_url,
        name=f"parla-{name}",
        stream_contexts=[name],
        stream_replicas=settings.nats_stream_replicas,
        user=settings.nats_user or None,
        password=settings.nats_password or None,
        inbox_prefix=inbox_prefix(name),
    )
    jwks = HttpJwksKeySource(settings.jwks_url, refresh_seconds=settings.jwks_refresh_seconds)
    key_source = definition.key_source or jwks
    verifier = TokenVerifier(
        key_source,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        service_audience=service_audience(settings.jwt_audience, name),
    )
    try:
        schema_version = SchemaVersion(settings.db_schema, Path(settings.migrations_dir) / name)
    except FileNotFoundError as exc:
        raise SettingsError(f"PARLA_MIGRATIONS_DIR: {exc}") from exc
    remote_standing: IdentityStanding | None = None
    standing = definition.account_standing
    if standing is None:
        tokens = definition.service_tokens or ServiceTokens(settings.identity_url, name, settings.client_secret)
        standing = remote_standing = IdentityStanding(settings.identity_url, tokens)
    deleted_accounts = DeletedAccounts()
    prometheus = PrometheusConfig(app_name=f"parla_{name}", prefix="parla", group_path=True, exclude=["/metrics"])

    @asynccontextmanager
    async def run_background_work(app: Litestar) -> AsyncIterator[None]:
        await bus.start()
        engine = db_config.get_engine()
        session_maker = db_config.create_session_maker()
        relay = OutboxRelay(
            tables,
            engine,
            bus,
            listen_dsn=plain_dsn(settings.database_url),
            poll_seconds=settings.outbox_poll_seconds,
        )
        consumers = [
            EventConsumer(
                subscription,
                bus=bus,
                session_maker=session_maker,  # type: ignore[arg-type]
                tables=tables,
                max_deliver=settings.consumer_max_deliver,
            )
            for subscription in definition.subscriptions
        ]
        metrics = OperationalMetrics(
            service=name,
            schema=settings.db_schema,
            engine=engine,
            bus=bus,
            subscriptions=definition.subscriptions,
            pool_capacity=settings.db_pool_max_size,
        )
        tasks = [asyncio.create_task(relay.run(), name=f"{name}-outbox-relay")]
        tasks.append(asyncio.create_task(warm_pool(engine, settings.db_pool_min_size), name=f"{name}-pool-warm-up"))
        tasks.append(asyncio.create_task(metrics.run(settings.metrics_refresh_seconds), name=f"{name}-metrics"))
        tasks += [asyncio.create_task(consumer.run(), name=consumer.subscription.durable) for consumer in consumers]
        tasks.append(
            asyncio.create_task(
                expire_dead_letters(engine, tables, timedelta(days=settings.dead_letter_max_age_days)),
                name=f"{name}-dead-letter-expiry",
            )
        )
        tasks += [asyncio.create_task(task(app)) for task in definition.background_tasks]
        if key_source is jwks:
            tasks.append(asyncio.create_task(jwks.keep_fresh(), name=f"{name}-jwks-refresh"))
        tasks.append(
            asyncio.create_task(
                deleted_accounts.run(
                    plain_dsn(settings.database_url), standing, settings.deleted_accounts_sync_seconds
                ),
                name=f"{name}-deleted-accounts",
            )
        )
        # What exists by now (modules, the app and its routes, models, the pool) lives as long as the process: out
        # of the collector's reach, a full collection no longer scans it. It did, about every 40 s under load, and
        # held the event loop for about 110 ms each time (docs/performance.md, "Garbage collection pauses").
        gc.freeze()
        try:
            yield
        finally:
            # Bounded, so a stuck broker or database connection can't hold the process at shutdown.
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(bus.close(), timeout=SHUTDOWN_GRACE_SECONDS)
            if remote_standing is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(remote_standing.close(), timeout=SHUTDOWN_GRACE_SECONDS)

    app = Litestar(
        route_handlers=[HealthController, _MetricsController, *definition.route_handlers],
        plugins=[sqlalchemy_plugin(db_config), problem_details_plugin()],
        # Shedding after the request id and metrics (a 503 is logged and counted), before any real work.
        middleware=[
            RequestContextMiddleware(settings.trusted_proxy_networks),
            prometheus.middleware,
            InFlightLimitMiddleware(
                settings.in_flight_limit, queued=settings.queue_limit, max_wait=settings.max_queue_wait_seconds
            ),
            AuthenticationMiddleware(verifier, deleted_accounts),
            # Innermost: a success is committed before its status line passes the others (counted, request id).
            CommitBeforeRespondingMiddleware(db_config),
        ],
        exception_handlers={**fallback_exception_handlers(), PoolTimeoutError: pool_timeout_response},
        lifespan=[run_background_work],
        dependencies={
            "principal": Provide(provide_principal),
            "outbox": Provide(lambda: outbox, sync_to_thread=False),
            **definition.dependencies,
        },
        state=State(
            {
                "settings": settings,
                "bus": bus,
                "outbox": outbox,
                "tables": tables,
                "schema_version": schema_version,
                "account_standing": standing,
                "deleted_accounts": deleted_accounts,
                **definition.state,
            }
        ),
        openapi_config=OpenAPIConfig(
            title=f"Parla {name} API",
            version="1.0.0",
            description=definition.description,
            servers=[Server(url=f"/api/{name}")],
            path="/schema",
            operation_id_creator=operation_id,
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
                }
            ),
        ),
        # Our structlog setup owns logging; Litestar's default config would replace its handler.
        logging_config=None,
        debug=False,
    )
    document_problems(app.openapi_schema)
    return app
