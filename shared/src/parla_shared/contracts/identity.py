"""The events identity publishes (stream ``PARLA_IDENTITY``).

**No personal data in events.** A stream keeps every message for 30 days and cannot forget one user's, so
identity's events carry no email, name or avatar (version 2 of ``registered``/``updated``; version 1 carried
``email``, ``name`` and the old/new values of every changed field). Consumers that need a profile ask identity.
Envelopes still carry the request's ``ip`` and ``user_agent`` (the activity log needs them, FR-19); they are
not erased from the stream before its max age.
"""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID

import msgspec

from parla_shared.contracts import EventContract

USER_REGISTERED: Final = "parla.identity.user.registered"
USER_UPDATED: Final = "parla.identity.user.updated"
USER_LOGGED_IN: Final = "parla.identity.user.logged_in"
USER_LOGGED_OUT: Final = "parla.identity.user.logged_out"
USER_EMAIL_VERIFIED: Final = "parla.identity.user.email_verified"
USER_PASSWORD_RESET_REQUESTED: Final = "parla.identity.user.password_reset_requested"  # noqa: S105
USER_PASSWORD_RESET: Final = "parla.identity.user.password_reset"  # noqa: S105
USER_DELETED: Final = "parla.identity.user.deleted"
USER_ROLE_GRANTED: Final = "parla.identity.user.role_granted"
USER_ROLE_REVOKED: Final = "parla.identity.user.role_revoked"

# The daily XP goals a learner may choose (FR-12): identity refuses any other, progress counts days against it.
DAILY_XP_GOALS: Final = (10, 20, 30, 50)
DEFAULT_DAILY_XP_GOAL: Final = 20

# Version 2 of ``registered``/``updated`` carries no personal data (above).
PERSONAL_DATA_VERSION: Final = 2
# Profile fields whose values stay in identity: events say that they changed, never what they hold.
PERSONAL_FIELDS = frozenset({"email", "name", "avatar_url"})


class UserRegistered(msgspec.Struct, frozen=True):
    """A new account, by password or a provider (``method``: ``password``/``google``/``tiktok``); ``daily_xp_goal``
    is one of ``DAILY_XP_GOALS``."""

    user_id: UUID
    timezone: str
    daily_xp_goal: int
    method: str


class UserUpdated(msgspec.Struct, frozen=True):
    """``changed_fields`` names every changed field (when absent, the keys of ``changes``); ``changes`` has the old
    and new values of the non-personal ones (``timezone``, ``daily_xp_goal``); ``timezone`` and ``daily_xp_goal``
    are the current values."""

    user_id: UUID
    changes: dict[str, dict[str, Any]]
    timezone: str
    daily_xp_goal: int
    changed_fields: list[str] = msgspec.field(default_factory=list)

    @classmethod
    def of(cls, user_id: UUID, changes: dict[str, dict[str, Any]], *, timezone: str, daily_xp_goal: int) -> UserUpdated:
        return cls(
            user_id=user_id,
            changed_fields=sorted(changes),
            changes={field: change for field, change in changes.items() if field not in PERSONAL_FIELDS},
            timezone=timezone,
            daily_xp_goal=daily_xp_goal,
        )

    def fields_changed(self) -> list[str]:
        return self.changed_fields or list(self.changes)


class UserLoggedIn(msgspec.Struct, frozen=True):
    """A login (``method`` as for registration); ``ip`` and ``user_agent`` as the gateway saw them."""

    user_id: UUID
    method: str
    ip: str | None = None
    user_agent: str | None = None


class UserOnly(msgspec.Struct, frozen=True):
    """``logged_out``, ``email_verified``, ``password_reset_requested``, ``password_reset``: the user alone."""

    user_id: UUID


class UserDeleted(msgspec.Struct, frozen=True):
    """An account erased (FR-5): ``deleted_by`` is the actor's user id, ``reason`` ``self`` or ``admin``."""

    user_id: UUID
    deleted_by: UUID
    reason: str


class RoleChanged(msgspec.Struct, frozen=True):
    """``role_granted`` / ``role_revoked``: the role and the user's roles before and after."""

    user_id: UUID
    role: str
    old_roles: list[str]
    new_roles: list[str]


_ANALYTICS = ("analytics",)
_PROGRESS_AND_ANALYTICS = ("progress (learner projection)", "analytics")
CONTRACTS = [
    EventContract(USER_REGISTERED, UserRegistered, "an account was created", _PROGRESS_AND_ANALYTICS, 2),
    EventContract(USER_UPDATED, UserUpdated, "a profile changed", _PROGRESS_AND_ANALYTICS, 2),
    EventContract(USER_LOGGED_IN, UserLoggedIn, "a user logged in", _ANALYTICS),
    EventContract(USER_LOGGED_OUT, UserOnly, "a session was ended", _ANALYTICS),
    EventContract(USER_EMAIL_VERIFIED, UserOnly, "an email address was proven", _ANALYTICS),
    EventContract(USER_PASSWORD_RESET_REQUESTED, UserOnly, "a reset code was mailed", _ANALYTICS),
    EventContract(USER_PASSWORD_RESET, UserOnly, "a password was reset", _ANALYTICS),
    EventContract(USER_DELETED, UserDeleted, "an account was erased (FR-5)", ("progress (erasure)", "analytics")),
    EventContract(USER_ROLE_GRANTED, RoleChanged, "a role was granted", ("analytics (audit)",)),
    EventContract(USER_ROLE_REVOKED, RoleChanged, "a role was revoked", ("analytics (audit)",)),
]
