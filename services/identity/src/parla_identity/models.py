"""Identity's tables (schema ``identity``), as created by ``migrations/identity/versions/0002_accounts.py``.

Defaults (ids, timestamps) are the database's, so rows written by SQL and by the ORM look the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import TIMESTAMP, Boolean, ForeignKey, Integer, MetaData, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SCHEMA = "identity"
ADMIN_ROLE = "admin"
ROLES = (ADMIN_ROLE,)
PROVIDERS = ("google", "tiktok")


class Base(DeclarativeBase):
    metadata = MetaData(schema=SCHEMA)
    type_annotation_map = {datetime: TIMESTAMP(timezone=True), UUID: PG_UUID(as_uuid=True)}


def _uuid_pk() -> Mapped[UUID]:
    return mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))


def _created_at() -> Mapped[datetime]:
    return mapped_column(server_default=text("now()"))


class User(Base):
    __tablename__ = "users"

    id: Mapped[UUID] = _uuid_pk()
    email: Mapped[str] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    avatar_url: Mapped[str | None] = mapped_column(String(500))
    is_email_verified: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    daily_xp_goal: Mapped[int] = mapped_column(Integer, server_default=text("20"))
    timezone: Mapped[str] = mapped_column(String(50), server_default=text("'UTC'"))
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"), server_onupdate=text("now()"))

    roles: Mapped[list[UserRole]] = relationship(
        lazy="joined", cascade="all, delete-orphan", passive_deletes=True, order_by="UserRole.role"
    )

    @property
    def role_names(self) -> tuple[str, ...]:
        return tuple(role.role for role in self.roles)


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(50), primary_key=True)
    granted_by: Mapped[UUID | None]
    created_at: Mapped[datetime] = _created_at()


class OAuthProvider(Base):
    __tablename__ = "oauth_providers"

    id: Mapped[UUID] = _uuid_pk()
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(50))
    provider_user_id: Mapped[str] = mapped_column(String(255))
    access_token: Mapped[str | None] = mapped_column(Text)  # AES-GCM envelope (crypto.SecretBox)
    refresh_token: Mapped[str | None] = mapped_column(Text)  # AES-GCM envelope (crypto.SecretBox)
    token_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"), server_onupdate=text("now()"))


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[UUID] = _uuid_pk()
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    family_id: Mapped[UUID]
    token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created_at()


class UserToken(Base):
    """A one-time token mailed to the user (email verification, password reset); only its hash is kept."""

    __tablename__ = "user_tokens"

    id: Mapped[UUID] = _uuid_pk()
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(30))
    token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created_at()


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(10), server_default=text("'EdDSA'"))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()
    retired_at: Mapped[datetime | None]


class OAuthState(Base):
    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(50))
    nonce: Mapped[str | None] = mapped_column(String(128))
    code_verifier_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()
    expires_at: Mapped[datetime]
