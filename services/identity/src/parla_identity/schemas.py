"""Request and response bodies of the identity API (unknown body fields are rejected)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

# PostgreSQL text cannot hold a NUL character: a string that reaches the database (not passwords or tokens, which
# are only hashed) is refused when the body is read, with a 400 that names the field.
Text = Annotated[str, msgspec.Meta(pattern=r"^[^\x00]*$")]


class Body(msgspec.Struct, forbid_unknown_fields=True):
    pass


class RegisterRequest(Body):
    email: Text
    password: str
    name: Text
    timezone: Text | None = None
    daily_xp_goal: int | None = None


class VerifyEmailRequest(Body):
    token: str


class LoginRequest(Body):
    email: Text
    password: str


class RefreshRequest(Body):
    refresh_token: str


class LogoutRequest(Body):
    refresh_token: str


class PasswordResetRequest(Body):
    email: Text


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

    name: Text | msgspec.UnsetType = msgspec.UNSET
    avatar_url: Text | msgspec.UnsetType | None = msgspec.UNSET
    daily_xp_goal: int | msgspec.UnsetType = msgspec.UNSET
    timezone: Text | msgspec.UnsetType = msgspec.UNSET


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
