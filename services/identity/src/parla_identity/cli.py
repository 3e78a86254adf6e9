"""``python -m parla_identity.cli``: operator commands.

- ``create-admin --email … [--name …]``: creates an administrator, or makes an existing account one. The password
  is asked for twice at a terminal, or read as the first line of standard input
  (``printf '%s' "$PASSWORD" | python -m parla_identity.cli create-admin --email …``): never a command-line
  argument, which other users of the machine see in the process list and shells keep in their history.
- ``rotate-signing-key``: a new active signing key; the old one stays in the JWKS until its tokens expire.
- ``reseal-secrets``: re-encrypts every stored secret (signing keys, OAuth provider tokens) under the current
  ``PARLA_IDENTITY_SECRET_KEY``, after which the previous keys can be dropped from the settings.
- ``seed-learners N --out FILE [--admins K]``: load-test accounts (``learner-000001@load.parla.test`` …, verified,
  password ``Learner-pass1``, made once in bulk) and a new refresh token for each, written to FILE as JSON
  (``{"learners": [{"email", "user_id", "refresh_token"}], "admins": [...]}``). Never in production.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity.seeding import SeededAccount, seed_learners
from parla_identity.settings import IdentitySettings
from parla_identity.use_cases import accounts
from parla_identity.use_cases.context import Identity
from parla_shared.db import SystemPath, running_system_path
from parla_shared.events.outbox import Outbox
from parla_shared.events.tables import MessagingTables
from parla_shared.problems import Problem
from parla_shared.settings import SettingsError


@asynccontextmanager
async def operator_identity(settings: IdentitySettings) -> AsyncIterator[Identity]:
    """The service's parts for one command, its signing-key store's connections closed at the end."""
    identity = Identity.from_settings(settings)
    try:
        yield identity
    finally:
        await identity.keys.close()


@asynccontextmanager
async def operator_session(identity: Identity) -> AsyncIterator[AsyncSession]:
    """A transaction on the operator system path: these commands act on any account (row-level security)."""
    with running_system_path(SystemPath.OPERATOR):
        async with identity.keys.database_transaction() as session:
            yield session


async def create_admin(settings: IdentitySettings, email: str, password: str, name: str) -> str:
    async with operator_identity(settings) as identity, operator_session(identity) as session:
        user = await accounts.create_admin(identity, session, email, password, name)
        return f"admin {user.email} ({user.id})"


async def rotate_signing_key(settings: IdentitySettings) -> str:
    async with operator_identity(settings) as identity:
        return f"active signing key {await identity.keys.rotate()}"


async def reseal_secrets(settings: IdentitySettings) -> str:
    async with operator_identity(settings) as identity:
        async with operator_session(identity) as session:
            count = await accounts.reseal_secrets(identity, session)
        return f"{count} secrets now sealed with key {identity.box.current_key_id}"


class PasswordInputError(Exception):
    pass


def read_password(stdin: TextIO) -> str:
    """At a terminal: asked twice, without echo; otherwise the first line of standard input."""
    if stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat the password: ") != password:
            raise PasswordInputError("the passwords differ")
    else:
        password = stdin.readline().rstrip("\r\n")
    if not password:
        raise PasswordInputError("no password given (type it at the prompt or pipe it on standard input)")
    return password


async def seed_learner_accounts(settings: IdentitySettings, learners: int, admins: int, out: Path) -> str:
    outbox = Outbox(MessagingTables(settings.db_schema), producer=settings.service_name)
    started = time.perf_counter()
    async with operator_identity(settings) as identity, operator_session(identity) as session:
        result = await seed_learners(identity, session, outbox, learners, admins)

    def listed(accounts: list[SeededAccount]) -> list[dict[str, str]]:
        return [{"email": a.email, "user_id": str(a.user_id), "refresh_token": a.refresh_token} for a in accounts]

    out.parent.mkdir(parents=True, exist_ok=True)
    # The file holds live credentials: readable by its owner only.
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump({"learners": listed(result.learners), "admins": listed(result.admins)}, file)
    return (
        f"{len(result.learners)} learners and {len(result.admins)} admins ({result.created} new) with fresh "
        f"refresh tokens in {out}, {time.perf_counter() - started:.1f} s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parla_identity.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    admin = commands.add_parser("create-admin", help="create an administrator (idempotent)")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default="Administrator")
    commands.add_parser("rotate-signing-key", help="make a new signing key the active one")
    commands.add_parser("reseal-secrets", help="re-encrypt stored secrets under the current secret key")
    seed = commands.add_parser("seed-learners", help="bulk load-test accounts with refresh tokens (not production)")
    seed.add_argument("learners", type=int, help="how many learner accounts (made once, reused later)")
    seed.add_argument("--admins", type=int, default=0, help="how many admin accounts as well")
    seed.add_argument("--out", type=Path, required=True, help="JSON file for the accounts and refresh tokens")
    args = parser.parse_args(argv)
    try:
        settings = IdentitySettings.from_env()
        if args.command == "create-admin":
            print(asyncio.run(create_admin(settings, args.email, read_password(sys.stdin), args.name)))
        elif args.command == "seed-learners":
            print(asyncio.run(seed_learner_accounts(settings, args.learners, args.admins, args.out)))
        elif args.command == "rotate-signing-key":
            print(asyncio.run(rotate_signing_key(settings)))
        else:
            print(asyncio.run(reseal_secrets(settings)))
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except PasswordInputError as exc:
        print(f"create-admin: {exc}", file=sys.stderr)
        return 2
    except Problem as exc:
        print(f"refused: {exc.detail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
