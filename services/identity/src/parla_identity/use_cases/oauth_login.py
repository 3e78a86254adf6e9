"""Logging in with a provider (Google, TikTok): the account a provider identity opens, linked or created."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity.api.schemas import TokenPair
from parla_identity.clients.oauth_providers import ProviderUser, placeholder_email, provider_token_context
from parla_identity.domain import accounts as account_rules
from parla_identity.models import OAuthProvider, User
from parla_identity.use_cases import accounts, tokens
from parla_identity.use_cases.context import Identity
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem


def store_provider_tokens(identity: Identity, link: OAuthProvider, found: ProviderUser) -> None:
    """Provider tokens are sealed with AES-GCM before they reach the database (NFR-7)."""
    key = f"{found.provider}:{found.provider_user_id}"
    link.access_token = (
        identity.box.seal(found.access_token, context=provider_token_context(key, "access_token"))
        if found.access_token
        else None
    )
    link.refresh_token = (
        identity.box.seal(found.refresh_token, context=provider_token_context(key, "refresh_token"))
        if found.refresh_token
        else None
    )
    link.token_expires_at = (
        datetime.now(UTC) + timedelta(seconds=found.expires_in) if found.expires_in is not None else None
    )


def open_provider_token(identity: Identity, link: OAuthProvider, column: str) -> str | None:
    sealed = getattr(link, column)
    if sealed is None:
        return None
    key = f"{link.provider}:{link.provider_user_id}"
    return identity.box.open(sealed, context=provider_token_context(key, column))


async def user_for_provider(identity: Identity, session: AsyncSession, outbox: Outbox, found: ProviderUser) -> User:
    """The linked account; else the account with the provider's email when the provider verified it; else a new one."""
    link = await session.scalar(
        select(OAuthProvider).where(
            OAuthProvider.provider == found.provider, OAuthProvider.provider_user_id == found.provider_user_id
        )
    )
    if link is not None:
        user = await accounts.user_by_id(session, link.user_id)
        assert user is not None  # the foreign key cascades deletes
        store_provider_tokens(identity, link, found)
        return user
    user = await accounts.find_user_by_email(session, found.email) if found.email else None
    if user is not None and not found.email_verified:
        raise Problem(
            409,
            "Account exists",
            f"an account with this email exists, but {found.provider} has not verified the email; "
            "log in with your password instead",
        )
    if user is not None:
        if await session.scalar(
            select(OAuthProvider.id).where(OAuthProvider.user_id == user.id, OAuthProvider.provider == found.provider)
        ):
            raise Problem(409, "Account exists", f"this account is already linked to another {found.provider} account")
        if not user.is_email_verified:
            # Whoever set this account's password never proved they own the address the provider has just verified
            # (account pre-hijacking): that password and its sessions no longer open the account; the owner can
            # set one through a password reset.
            user.password_hash = None
            await tokens.revoke_all_refresh_tokens(session, user.id)
            await accounts.mark_email_verified(session, outbox, user)
    else:
        email = found.email or placeholder_email(found.provider, found.provider_user_id)
        user = await accounts.create_user(
            session,
            email=account_rules.valid_email(email),
            name=(found.name.strip() or "Parla learner")[:255],
            password_hash=None,
            avatar_url=found.avatar_url if found.avatar_url and len(found.avatar_url) <= 500 else None,
            is_email_verified=found.email is not None and found.email_verified,
        )
        await accounts.announce_registration(session, outbox, user, found.provider)
    link = OAuthProvider(user_id=user.id, provider=found.provider, provider_user_id=found.provider_user_id)
    store_provider_tokens(identity, link, found)
    session.add(link)
    await session.flush()
    return user


async def provider_login(identity: Identity, session: AsyncSession, outbox: Outbox, found: ProviderUser) -> TokenPair:
    """A token pair for the account the provider identity opens, and the login announced."""
    user = await user_for_provider(identity, session, outbox, found)
    pair = await tokens.issue_token_pair(identity, session, user)
    await accounts.announce_login(session, outbox, user, found.provider)
    return pair
