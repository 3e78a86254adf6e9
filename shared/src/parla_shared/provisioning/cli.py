"""``parla-dev``: ``migrate`` provisions a database for a deployment (compose, the Kubernetes jobs); the
development commands (``run``, ``test``, ``backup``, ``restore``, ``loadtest``) come from the devstack
(``tools/devstack``) when it is installed, through the ``parla.dev_commands`` entry point. The image ships
only ``migrate``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points

from parla_shared.provisioning.database import with_database
from parla_shared.provisioning.environment import (
    Ports,
    ServiceLayout,
    app_database_of,
    data_dir_of,
    prepare_database,
    project_root,
    role_passwords,
    weak_role_passwords,
)
from parla_shared.secret_policy import is_development, placeholder_reason, url_password
from parla_shared.settings import SettingsError

COMMANDS_ENTRY_POINT = "parla.dev_commands"


def _say(message: str) -> None:
    print(f"parla-dev: {message}", flush=True)


def migrate(args: argparse.Namespace) -> int:
    """For deployments (compose, Kubernetes jobs): roles, schemas and migrations on ``PARLA_DATABASE_URL``."""
    environ = dict(os.environ)
    # A deployment's job: production unless it says otherwise (the seeds it runs inherit this).
    environ.setdefault("PARLA_ENVIRONMENT", "production")
    server_dsn = environ.get("PARLA_DATABASE_URL")
    if not server_dsn:
        _say("PARLA_DATABASE_URL must name the PostgreSQL server (an admin URL) to migrate")
        return 2
    try:
        passwords = role_passwords(environ)
        if not is_development(environ["PARLA_ENVIRONMENT"]):
            refuse_weak_migration_secrets(server_dsn, passwords)
    except SettingsError as exc:
        _say(f"configuration error: {exc}")
        return 2
    root = project_root()
    dsns = prepare_database(root, with_database(server_dsn, "postgres"), app_database_of(server_dsn), passwords)
    if args.seed:
        layout = ServiceLayout(root, data_dir_of(environ), Ports().overridden_by(environ), environ)
        layout.seed(dsns, environ.get("PARLA_NATS_URL", f"nats://127.0.0.1:{Ports().nats}"))
    _say("database ready")
    return 0


def refuse_weak_migration_secrets(server_dsn: str, passwords: Mapping[str, str]) -> None:
    """Outside development the roles get no development default, placeholder or weak password."""
    problems = weak_role_passwords(passwords)
    admin_password = url_password(server_dsn)
    if admin_password and (reason := placeholder_reason(admin_password)) is not None:
        problems["PARLA_DATABASE_URL's password"] = reason
    if problems:
        listed = "; ".join(f"{name} {reason}" for name, reason in problems.items())
        raise SettingsError(f"refusing to migrate outside development (PARLA_ENVIRONMENT): {listed}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parla-dev", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    migrate_parser = commands.add_parser("migrate", help="roles, schemas and migrations on PARLA_DATABASE_URL")
    migrate_parser.add_argument("--seed", action="store_true", help="also run every service's seed")
    migrate_parser.set_defaults(handler=migrate)
    for entry_point in entry_points(group=COMMANDS_ENTRY_POINT):
        entry_point.load()(commands)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
