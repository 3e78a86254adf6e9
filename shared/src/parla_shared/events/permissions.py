"""Who may publish and consume what on NATS: one user per service, rendered as a NATS ``authorization`` block.

The one source of these permissions: the devstack writes them (with generated passwords) into the embedded
server's configuration, and ``deploy/nats/auth.conf`` is the same block with passwords read from the NATS
server's environment (``$PARLA_NATS_<SERVICE>_PASSWORD``); a test keeps that file equal to what this renders.

A service may publish only its own events (``parla.<service>.>``), create and update only its own stream, read
the streams it consumes and use only its own durable consumers on them (create, fetch, ack), and receive only on
its own inbox prefix (``_INBOX.<service>.>``), so it can neither forge another context's events, take another
consumer's messages nor read another client's replies.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from parla_shared.events.bus import stream_name

SERVICES = ("identity", "curriculum", "progress", "analytics")
# Durable consumers per service and the context each reads; each service's suite checks its subscriptions
# against this table (test_nats_permissions_cover_the_subscriptions).
DURABLES: Mapping[str, Mapping[str, str]] = {
    "identity": {},
    "curriculum": {},
    "progress": {"progress-identity": "identity"},
    "analytics": {
        "analytics-identity": "identity",
        "analytics-curriculum": "curriculum",
        "analytics-progress": "progress",
    },
}
# The devstack's own user (tests, tooling): every permission. Never part of a deployment's configuration.
ADMIN_USER = "parla_admin"


def nats_user(service: str) -> str:
    return f"parla_{service}"


def inbox_prefix(service: str) -> str:
    """Where a service's replies (JetStream API answers, publish acks, fetched messages) arrive."""
    return f"_INBOX.{service}"


def password_variable(service: str) -> str:
    return f"PARLA_NATS_{service.upper()}_PASSWORD"


def permissions(service: str) -> dict[str, list[str]]:
    """The subjects ``service`` may publish to and subscribe to (everything else is denied)."""
    own = stream_name(service)
    publish = [
        f"parla.{service}.>",
        "$JS.API.INFO",
        f"$JS.API.STREAM.INFO.{own}",
        f"$JS.API.STREAM.CREATE.{own}",
        f"$JS.API.STREAM.UPDATE.{own}",
    ]
    for context in sorted(set(DURABLES[service].values())):
        publish.append(f"$JS.API.STREAM.INFO.{stream_name(context)}")
    for durable, context in sorted(DURABLES[service].items()):
        stream = stream_name(context)
        publish += [
            f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",
            f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.>",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
            f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
        ]
    return {"publish": publish, "subscribe": [f"{inbox_prefix(service)}.>"]}


def _quoted(values: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{value}"' for value in values) + "]"


def render_authorization(passwords: Mapping[str, str] | None = None, *, admin_password: str | None = None) -> str:
    """The ``authorization`` block; without ``passwords`` each password is the server's environment variable."""
    lines = ["authorization {", "  users = ["]
    for service in SERVICES:
        password = f'"{passwords[service]}"' if passwords is not None else f"${password_variable(service)}"
        allowed = permissions(service)
        lines += [
            f'    {{ user: "{nats_user(service)}", password: {password}, permissions: {{',
            f"        publish: {{ allow: {_quoted(allowed['publish'])} }}",
            f"        subscribe: {{ allow: {_quoted(allowed['subscribe'])} }}",
            "    } }",
        ]
    if admin_password is not None:
        lines.append(f'    {{ user: "{ADMIN_USER}", password: "{admin_password}" }}')
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


DEPLOY_HEADER = """\
# NATS users and permissions of the Parla services (docs/decisions.md, "Security: NATS identities").
# Generated from parla_shared/events/permissions.py; shared/tests/test_nats_identities.py keeps this file equal to
# it. docker-compose.yml mounts it, deploy/helm/nats-values.yaml includes it; the NATS server reads each
# service's password from PARLA_NATS_<SERVICE>_PASSWORD, and each service connects with
# PARLA_NATS_USER=parla_<service> and PARLA_NATS_PASSWORD.
"""


def render_deploy_config() -> str:
    return DEPLOY_HEADER + render_authorization()


@dataclass(frozen=True)
class NatsPasswords:
    """The embedded server's passwords: one per service, and the devstack's own (tests, tooling)."""

    services: Mapping[str, str]
    admin: str

    @classmethod
    def generate(cls) -> NatsPasswords:
        return cls({service: secrets.token_urlsafe(32) for service in SERVICES}, secrets.token_urlsafe(32))

    def service_env(self, service: str) -> dict[str, str]:
        return {"PARLA_NATS_USER": nats_user(service), "PARLA_NATS_PASSWORD": self.services[service]}


def with_credentials(url: str, user: str, password: str) -> str:
    """``nats://host:port`` → ``nats://user:password@host:port`` (nats-py reads credentials from the URL)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.hostname}:{parts.port}"))


def without_credentials(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{parts.port}")) if parts.username else url
