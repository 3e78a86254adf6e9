"""Password policy and bcrypt hashing (NFR-6), always in a worker thread, never on the event loop."""

from __future__ import annotations

import asyncio
import re
from functools import cache

import bcrypt

MIN_LENGTH = 8
MAX_BYTES = 72  # bcrypt ignores anything after 72 bytes; refuse rather than silently truncate


def password_policy_violation(password: str) -> str | None:
    """Why a password is refused, or None: at least 8 characters with an upper-case letter, a lower-case
    letter and a digit, at most 72 bytes."""
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters long"
    if len(password.encode()) > MAX_BYTES:
        return f"password must be at most {MAX_BYTES} bytes long"
    if not re.search(r"[a-z]", password):
        return "password must contain a lower-case letter"
    if not re.search(r"[A-Z]", password):
        return "password must contain an upper-case letter"
    if not re.search(r"\d", password):
        return "password must contain a digit"
    return None


def _hash(password: str, rounds: int) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def _check(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode()[:MAX_BYTES], hashed.encode())
    except ValueError:
        return False


async def hash_password(password: str, rounds: int) -> str:
    return await asyncio.to_thread(_hash, password, rounds)


async def verify_password(password: str, hashed: str | None, rounds: int) -> bool:
    """Checks against the stored hash, or, when there is none (unknown email, OAuth-only account), against a
    dummy hash of the same cost, so a miss takes as long as a wrong password."""
    if hashed is None:
        await asyncio.to_thread(_check, password, _dummy_hash(rounds))
        return False
    return await asyncio.to_thread(_check, password, hashed)


@cache
def _dummy_hash(rounds: int) -> str:
    return _hash("parla-dummy-password-Never-Matches-1", rounds)


def bcrypt_cost(hashed: str) -> int:
    """The cost factor of a ``$2b$12$…`` hash."""
    return int(hashed.split("$")[2])
