"""``python -m parla_identity.seed`` (run by ``make run`` before the services start): the dev admin.

Idempotent. The account comes from ``PARLA_ADMIN_EMAIL`` / ``PARLA_ADMIN_PASSWORD``, by default
``admin@parla.local`` / ``ParlaAdmin1!`` in development; in production without ``PARLA_ADMIN_PASSWORD`` no
admin is seeded (``python -m parla_identity.cli create-admin`` makes one) and the development password is refused.
"""

from __future__ import annotations

import asyncio
import sys

from parla_identity.cli import create_admin
from parla_identity.settings import IdentitySettings
from parla_identity.use_cases.context import Identity


async def seed(settings: IdentitySettings) -> str:
    password = settings.seed_admin_password
    if password is None:
        result = "no admin seeded (PARLA_ADMIN_PASSWORD is unset)"
    else:
        result = await create_admin(settings, settings.admin_email, password, "Parla Admin")
    identity = Identity.from_settings(settings)
    try:
        await identity.keys.ensure_active_key()  # the first signing key exists before any service asks for it
    finally:
        await identity.keys.close()
    return result


def main() -> int:
    print(f"identity seed: {asyncio.run(seed(IdentitySettings.from_env()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
