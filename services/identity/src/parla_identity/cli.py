"""``python -m parla_identity.cli``: operator commands.

- ``create-admin --email … [--name …]``: creates an administrator, or makes an existing account one. The password
  is asked for twice at a terminal, or read as the first line of standard input
  (``printf '%s' "$PASSWORD" | python -m parla_identity.cli create-admin --email …``): never a command-line
  argument, which other users of the machine see in the process list and shells keep in their history.
- ``rotate-signing-key``: a new active signing key; the old one stays in the JWKS until its tokens expire.
- ``reseal-secrets``: re-encrypts every stored secret (signing keys, OAuth provider tokens) under the current
  ``PARLA_IDENTITY_SECRET_KEY``, after which the previous keys can be dropped from the settings.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence
from typing import TextIO

from parla_identity import domain
from parla_identity.domain import Identity
from parla_identity.settings import IdentitySettings
from parla_shared.problems import Problem
from parla_shared.settings import SettingsError


async def create_admin(settings: IdentitySettings, email: str, password: str, name: str) -> str:
    identity = Identity.from_settings(settings)
    try:
        async with identity.keys._sessions()() as session, session.begin():
            user = await domain.create_admin(identity, session, email, password, name)
            return f"admin {user.email} ({user.id})"
    finally:
        await identity.keys.close()


async def rotate_signing_key(settings: IdentitySettings) -> str:
    identity = Identity.from_settings(settings)
    try:
        return f"active signing key {await identity.keys.rotate()}"
    finally:
        await identity.keys.close()


async def reseal_secrets(settings: IdentitySettings) -> str:
    identity = Identity.from_settings(settings)
    try:
        async with identity.keys._sessions()() as session, session.begin():
            count = await domain.reseal_secrets(identity, session)
        return f"{count} secrets now sealed with key {identity.box.current_key_id}"
    finally:
        await identity.keys.close()


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parla_identity.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    admin = commands.add_parser("create-admin", help="create an administrator (idempotent)")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default="Administrator")
    commands.add_parser("rotate-signing-key", help="make a new signing key the active one")
    commands.add_parser("reseal-secrets", help="re-encrypt stored secrets under the current secret key")
    args = parser.parse_args(argv)
    try:
        settings = IdentitySettings.from_env()
        if args.command == "create-admin":
            print(asyncio.run(create_admin(settings, args.email, read_password(sys.stdin), args.name)))
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
