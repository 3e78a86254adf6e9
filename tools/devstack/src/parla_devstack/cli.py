"""``parla-dev``'s development commands: run the local platform (``make run``), every test suite against real
servers (``make test``, suites.py), back up and restore the embedded database (backup_commands.py), the load test
(``make loadtest``) and the event documents."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from types import FrameType

from parla_devstack.backup import BackupStore
from parla_devstack.backup_commands import backup, restore_command, scheduled_backup
from parla_devstack.console import say
from parla_devstack.event_docs import events_command
from parla_devstack.loadtest import loadtest as run_journey
from parla_devstack.platform import Infrastructure, Platform
from parla_devstack.suites import SUITES, run_suites
from parla_devstack.supervisor import Supervisor
from parla_shared.provisioning.cli import main
from parla_shared.provisioning.database import SERVICES
from parla_shared.provisioning.environment import Ports, data_dir_of, prepare_database, project_root, role_passwords


class StopRequestedError(Exception):
    pass


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise_stop(_signum: int, _frame: FrameType | None) -> None:
    # One stop request is enough: a second Ctrl-C (uv forwards it too) must not cut the shutdown short.
    for stop_signal in _STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    raise StopRequestedError


def run(_: argparse.Namespace) -> int:
    """Start everything, print the URLs, stop everything on Ctrl-C; the data stays for the next run."""
    root = project_root()
    environ = dict(os.environ)
    data_dir = data_dir_of(environ)
    ports = Ports().overridden_by(environ)
    backups = BackupStore.of(data_dir)
    infrastructure = Infrastructure(data_dir, ports, environ, nats_store=data_dir / "nats", backups=backups)
    platform = Platform(root, data_dir, ports, environ)
    for stop_signal in _STOP_SIGNALS:
        signal.signal(stop_signal, _raise_stop)
    try:
        say("starting PostgreSQL and NATS")
        infrastructure.start()
        say("creating roles and schemas, running migrations")
        dsns = prepare_database(root, infrastructure.admin_dsn, infrastructure.app_database(), role_passwords(environ))
        say("seeding")
        platform.seed(dsns, infrastructure.nats_url, infrastructure.nats_passwords)
        scheduled_backup(infrastructure, environ)
        say("starting services and gateway")
        platform.start(dsns, infrastructure.nats_url, infrastructure.nats_passwords)
        platform.wait_ready()
        _print_urls(platform, infrastructure)
        supervisor = Supervisor(infrastructure.watched() + platform.watched(), say)
        next_backup_check = time.monotonic() + 60
        while True:
            time.sleep(1)
            supervisor.poll()
            if time.monotonic() >= next_backup_check:
                scheduled_backup(infrastructure, environ)
                next_backup_check = time.monotonic() + 60
    except StopRequestedError:
        say("stopping")
        return 0
    finally:
        platform.stop()
        infrastructure.stop()


def _print_urls(platform: Platform, infrastructure: Infrastructure) -> None:
    lines = [f"Parla is up: {platform.gateway_url}"]
    lines += [f"  web app     {platform.gateway_url}/  (learners; admins get the console)"]
    lines += [
        f"  {service:<11} {platform.gateway_url}/api/{service}/  (OpenAPI: /api/{service}/schema/openapi.json)"
        for service in SERVICES
    ]
    lines += [f"  PostgreSQL  {infrastructure.server_dsn}", f"  NATS        {infrastructure.nats_url}"]
    lines += [f"  logs        {platform.data_dir / 'logs'}", "Ctrl-C stops everything."]
    print("\n".join(lines), flush=True)


def loadtest(args: argparse.Namespace) -> int:
    """The learner journey against a running platform (``make loadtest``)."""
    return run_journey(args, project_root())


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``parla-dev``'s development commands (the ``parla.dev_commands`` entry point of this package)."""
    commands.add_parser("run", help="start the whole platform on the embedded default").set_defaults(handler=run)
    test_parser = commands.add_parser("test", help="run every test suite, each in its own process")
    test_parser.add_argument("suites", nargs="*", help=f"some of {', '.join(SUITES)} (default: all)")
    test_parser.add_argument("--keep-database", action="store_true", help="don't drop the test database")
    test_parser.add_argument("--pytest-args", nargs=argparse.REMAINDER, default=[], help="passed to every pytest")
    test_parser.set_defaults(handler=run_suites)
    commands.add_parser("backup", help="base backup of the embedded PostgreSQL, then retention").set_defaults(
        handler=backup
    )
    restore_parser = commands.add_parser("restore", help="restore the embedded PostgreSQL to a point in time")
    restore_parser.add_argument("--time", required=True, help="ISO 8601 time; without an offset it is UTC")
    restore_parser.add_argument("--yes", action="store_true", help="don't ask for confirmation")
    restore_parser.set_defaults(handler=restore_command)

    load_parser = commands.add_parser("loadtest", help="seed learners, run the journey with locust, print a table")
    load_parser.add_argument("--users", type=int, default=1000, help="simulated users, admins included")
    load_parser.add_argument("--admins", type=int, default=3, help="how many of them read analytics")
    load_parser.add_argument("--spawn-rate", type=float, default=20, help="users started per second")
    load_parser.add_argument("--duration", default="5m", help="locust run time, e.g. 90s, 5m")
    load_parser.add_argument("--host", default="http://localhost:8080", help="the gateway")
    load_parser.set_defaults(handler=loadtest)

    events_parser = commands.add_parser("events", help="write docs/asyncapi.json and docs/events.md from the contracts")
    events_parser.add_argument("--check", action="store_true", help="only say whether they are up to date")
    events_parser.set_defaults(handler=events_command)


if __name__ == "__main__":  # ``python -m parla_devstack.cli run``: the same program as ``parla-dev run``
    sys.exit(main())
