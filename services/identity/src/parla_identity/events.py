"""Payloads of the identity events (docs/events.md); producers may add fields, never rename or drop one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec

USER_REGISTERED = "parla.identity.user.registered"
USER_UPDATED = "parla.identity.user.updated"
USER_LOGGED_IN = "parla.identity.user.logged_in"
USER_LOGGED_OUT = "parla.identity.user.logged_out"
USER_EMAIL_VERIFIED = "parla.identity.user.email_verified"
USER_PASSWORD_RESET_REQUESTED = "parla.identity.user.password_reset_requested"  # noqa: S105
USER_PASSWORD_RESET = "parla.identity.user.password_reset"  # noqa: S105
USER_DELETED = "parla.identity.user.deleted"
USER_ROLE_GRANTED = "parla.identity.user.role_granted"
USER_ROLE_REVOKED = "parla.identity.user.role_revoked"


class UserRegistered(msgspec.Struct, frozen=True):
    user_id: UUID
    email: str
    name: str
    timezone: str
    daily_xp_goal: int
    method: str


class UserUpdated(msgspec.Struct, frozen=True):
    user_id: UUID
    changes: dict[str, dict[str, Any]]
    timezone: str
    daily_xp_goal: int


class UserLoggedIn(msgspec.Struct, frozen=True):
    user_id: UUID
    method: str
    ip: str | None
    user_agent: str | None


class UserOnly(msgspec.Struct, frozen=True):
    """``logged_out``, ``email_verified``, ``password_reset_requested``, ``password_reset``."""

    user_id: UUID


class UserDeleted(msgspec.Struct, frozen=True):
    user_id: UUID
    deleted_by: UUID
    reason: str


class RoleChanged(msgspec.Struct, frozen=True):
    user_id: UUID
    role: str
    old_roles: list[str]
    new_roles: list[str]
