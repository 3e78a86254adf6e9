"""Settings from ``PARLA_*`` environment variables, parsed and validated once when an app is built."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

import msgspec

from parla_shared.secret_policy import (
    DEV_SERVICE_CLIENT_SECRET,
    is_development,
    refuse,
    url_password,
    weak_secret_reason,
)

ENV_PREFIX = "PARLA_"

SettingsT = TypeVar("SettingsT", bound="ServiceSettings")


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


def env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def _validate_database_url(url: str) -> None:
    if not re.match(r"^postgres(ql)?(\+asyncpg)?://", url):
        raise ValueError("must be a postgresql:// URL")


def asyncpg_sqlalchemy_url(url: str) -> str:
    """``postgresql+asyncpg://…`` with libpq's ``sslmode`` renamed to asyncpg's ``ssl`` (same values)."""
    url = re.sub(r"^postgres(ql)?(\+asyncpg)?://", "postgresql+asyncpg://", url)
    return re.sub(r"([?&])sslmode=", r"\1ssl=", url)


class ServiceSettings(msgspec.Struct, kw_only=True, frozen=True):
    """What every service reads from its environment. Each service subclasses it with its own defaults."""

    service_name: str
    port: int
    db_schema: str
    database_url: str
    host: str = "127.0.0.1"
    # Undeclared means production: secrets are checked unless a process says it runs in development or tests.
    environment: Literal["development", "test", "production"] = "production"
    db_pool_min_size: int = 5
    db_pool_max_size: int = 20
    # Requests one process serves at once (overload.py); 0: db_pool_max_size.
    max_in_flight: int = 0
    # Requests that wait for one of those places, first come first served; unset: as many as max in flight. A
    # request past them is answered 503 at once, and one that waited max_queue_wait_seconds without a place too.
    max_queued: int | None = None
    max_queue_wait_seconds: float = 0.5
    # How long a request waits for a pooled connection before it is answered 503 (never a 500).
    db_pool_timeout_seconds: float = 5.0
    nats_url: str = "nats://127.0.0.1:4223"
    # Servers each JetStream stream is stored on: 1 locally, 3 on the production cluster (configmap).
    nats_stream_replicas: int = 1
    # The service's own NATS identity (docs/decisions.md, "Security: NATS identities"); empty = no authentication.
    nats_user: str = ""
    nats_password: str = ""
    data_dir: str = ".parla"
    public_url: str = "http://localhost:8080"
    jwt_issuer: str = "parla-identity"
    jwt_audience: str = "parla"
    jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    # How often the JWKS is fetched again even when no unknown key id was seen (a withdrawn key stops working).
    jwks_refresh_seconds: float = 300.0
    # Proxies whose X-Forwarded-For entries are believed (comma-separated addresses or CIDR networks): the client IP
    # is the rightmost X-Forwarded-For entry that is not one of them. Default: the gateway on this host.
    trusted_proxies: str = "127.0.0.1/32,::1/128"
    # Calling another service: identity's internal URL and this service's client secret for service tokens.
    identity_url: str = "http://127.0.0.1:8001"
    # Unset: the development secret in development and tests; in production, no service token (calls answer 503).
    service_client_secret: str = ""
    # Deleted accounts arrive at once by NOTIFY; identity's full list is copied this often too (missed notifications).
    deleted_accounts_sync_seconds: float = 30.0
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    outbox_poll_seconds: float = 1.0
    # How often the outbox/consumer/dead-letter/pool gauges of /metrics are read (not per request).
    metrics_refresh_seconds: float = 15.0
    # The Alembic environments (``<dir>/<service>/alembic.ini``): /ready compares the schema with their head.
    migrations_dir: str = "migrations"
    consumer_max_deliver: int = 5
    # Dead letters keep whole events (personal data included): deleted after this many days, like the streams.
    dead_letter_max_age_days: float = 30.0

    def __post_init__(self) -> None:
        _validate_database_url(self.database_url)
        if not 1 <= self.db_pool_min_size <= self.db_pool_max_size:
            raise ValueError("db_pool_min_size must be between 1 and db_pool_max_size")
        if self.dead_letter_max_age_days <= 0:
            raise ValueError("dead_letter_max_age_days must be positive")
        if self.max_in_flight < 0:
            raise ValueError("max_in_flight must be 0 (the pool's size) or more")
        if self.max_queued is not None and self.max_queued < 0:
            raise ValueError("max_queued must be 0 (no queue) or more")
        if self.max_queue_wait_seconds <= 0:
            raise ValueError("max_queue_wait_seconds must be positive")
        if not 1 <= self.nats_stream_replicas <= 5:  # JetStream's limit
            raise ValueError("nats_stream_replicas must be between 1 and 5")
        if not self.nats_url.startswith(("nats://", "tls://")):
            raise ValueError("nats_url must be a nats:// URL")
        if bool(self.nats_user) != bool(self.nats_password):
            raise ValueError("nats_user and nats_password go together")
        if self.jwks_refresh_seconds <= 0:
            raise ValueError("PARLA_JWKS_REFRESH_SECONDS must be positive")
        if self.deleted_accounts_sync_seconds <= 0:
            raise ValueError("PARLA_DELETED_ACCOUNTS_SYNC_SECONDS must be positive")
        self.trusted_proxy_networks  # noqa: B018 - parsed once here so a bad value stops start-up
        if not is_development(self.environment):
            refuse(self.weak_secrets())

    def weak_secrets(self) -> dict[str, str]:
        """Each secret setting that is a placeholder, a development default or too weak: variable → why.

        Checked outside development only; a service adds its own secrets by extending it.
        """
        problems: dict[str, str] = {}
        password = url_password(self.database_url)
        if password is not None and (reason := weak_secret_reason(password)) is not None:
            problems[f"{env_name('database_url')}'s password"] = reason
        if self.nats_password and (reason := weak_secret_reason(self.nats_password)) is not None:
            problems[env_name("nats_password")] = reason
        # Identity asks no one for service tokens (its secret is empty); every other service does.
        if self.service_client_secret and (reason := weak_secret_reason(self.service_client_secret)) is not None:
            problems[env_name("service_client_secret")] = reason
        return problems

    @property
    def client_secret(self) -> str:
        """This service's secret for service tokens (the development default only in development and tests)."""
        if self.service_client_secret or not is_development(self.environment):
            return self.service_client_secret
        return DEV_SERVICE_CLIENT_SECRET

    @property
    def in_flight_limit(self) -> int:
        """Each admitted request can hold a pooled connection without queueing for one."""
        return self.max_in_flight or self.db_pool_max_size

    @property
    def queue_limit(self) -> int:
        """Requests that may wait for a place: ``max_queued``, or as many as the in-flight limit when it is unset."""
        return self.in_flight_limit if self.max_queued is None else self.max_queued

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        try:
            return tuple(
                ipaddress.ip_network(item.strip(), strict=False)
                for item in self.trusted_proxies.split(",")
                if item.strip()
            )
        except ValueError as exc:
            raise ValueError(f"PARLA_TRUSTED_PROXIES must list IP addresses or networks: {exc}") from exc

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with the asyncpg driver that SQLAlchemy needs.

        libpq's ``sslmode`` (what operators write, e.g. ``?sslmode=require`` towards the pooler) becomes
        asyncpg's ``ssl`` parameter, which takes the same values; SQLAlchemy would pass it on unknown."""
        return asyncpg_sqlalchemy_url(self.database_url)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """Build settings from ``PARLA_<FIELD>`` variables; keyword overrides win (tests use them)."""
        return load_settings(cls, os.environ if environ is None else environ, **overrides)


def load_settings(cls: type[SettingsT], environ: Mapping[str, str], **overrides: Any) -> SettingsT:
    raw: dict[str, Any] = {}
    for field in msgspec.structs.fields(cls):
        value = environ.get(env_name(field.name))
        if value is not None:
            raw[field.name] = value
    raw.update(overrides)
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_explain(exc, cls)) from exc


def _explain(exc: msgspec.ValidationError, cls: type[ServiceSettings]) -> str:
    message = str(exc)
    path = re.search(r"at `\$\.(\w+)`", message)
    missing = re.search(r"missing required field `(\w+)`", message)
    if missing:
        return f"{env_name(missing.group(1))} is required but not set"
    if path:
        return f"{env_name(path.group(1))}: {message.split(' - at ', maxsplit=1)[0]}"
    return f"invalid {cls.__name__} configuration: {message}"
