"""Request and response bodies of the identity API (unknown body fields are rejected)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from parla_identity.models import User
from parla_shared.schemas import StorableText


class Body(msgspec.Struct, forbid_unknown_fields=True):
    """A request body. Its strings that reach the database are StorableText; passwords and tokens are only hashed."""


class RegisterRequest(Body):
    email: StorableText
    password: str
    name: StorableText
    timezone: StorableText | None = None
    daily_xp_goal: int | None = None


class VerifyEmailRequest(Body):
    token: str


class LoginRequest(Body):
    email: StorableText
    password: str


class RefreshRequest(Body):
    refresh_token: str


class LogoutRequest(Body):
    refresh_token: str


class PasswordResetRequest(Body):
    email: StorableText


class PasswordResetConfirm(Body):
    token: str
    new_password: str


class TokenPair(msgspec.Struct, frozen=True):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the token type, not a secret


class UserRead(msgspec.Struct, frozen=True):
    id: UUID
    email: str
    name: str
    avatar_url: str | None
    is_email_verified: bool
    daily_xp_goal: int
    timezone: str
    roles: list[str]
    created_at: datetime


class UserUpdate(Body):
    """Only the fields given change; ``avatar_url: null`` clears the avatar."""

    name: StorableText | msgspec.UnsetType = msgspec.UNSET
    avatar_url: StorableText | msgspec.UnsetType | None = msgspec.UNSET
    daily_xp_goal: int | msgspec.UnsetType = msgspec.UNSET
    timezone: StorableText | msgspec.UnsetType = msgspec.UNSET


class UserPage(msgspec.Struct, frozen=True):
    items: list[UserRead]
    total: int
    limit: int
    offset: int


class RolesRead(msgspec.Struct, frozen=True):
    user_id: UUID
    roles: list[str]


class Accepted(msgspec.Struct, frozen=True):
    detail: str


class Verified(msgspec.Struct, frozen=True):
    user_id: UUID
    is_email_verified: bool


def user_read(user: User) -> UserRead:
    return UserRead(
        id=user.id,
        email=user.email,
        name=user.name,
        avatar_url=user.avatar_url,
        is_email_verified=user.is_email_verified,
        daily_xp_goal=user.daily_xp_goal,
        timezone=user.timezone,
        roles=list(user.role_names),
        created_at=user.created_at,
    )
