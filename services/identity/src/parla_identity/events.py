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


# Version 2 of ``registered``/``updated`` carries no personal data (docs/events.md): a JetStream stream keeps
# messages for 30 days and cannot forget one user's, so values a consumer doesn't need never enter it.
PERSONAL_DATA_VERSION = 2
# Profile fields whose values stay in identity: events say that they changed, never what they hold.
PERSONAL_FIELDS = frozenset({"email", "name", "avatar_url"})


class UserRegistered(msgspec.Struct, frozen=True):
    user_id: UUID
    timezone: str
    daily_xp_goal: int
    method: str


class UserUpdated(msgspec.Struct, frozen=True):
    """``changed_fields`` names every changed field; ``changes`` has old/new values of the non-personal ones."""

    user_id: UUID
    changed_fields: list[str]
    changes: dict[str, dict[str, Any]]
    timezone: str
    daily_xp_goal: int

    @classmethod
    def of(cls, user_id: UUID, changes: dict[str, dict[str, Any]], *, timezone: str, daily_xp_goal: int) -> UserUpdated:
        return cls(
            user_id=user_id,
            changed_fields=sorted(changes),
            changes={field: change for field, change in changes.items() if field not in PERSONAL_FIELDS},
            timezone=timezone,
            daily_xp_goal=daily_xp_goal,
        )


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
