"""``/auth/oauth/{provider}/authorize`` and ``…/callback``: social login with Google and TikTok."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from litestar import Controller, get
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import CookieParameter, FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity import domain, events
from parla_identity.domain import Identity
from parla_identity.models import OAuthProvider, User
from parla_identity.oauth import OAuthClients, ProviderUser, placeholder_email, provider_token_context
from parla_identity.schemas import TokenPair
from parla_identity.settings import IdentitySettings
from parla_shared.context import request_context
from parla_shared.db import SystemPath, route_system_path
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem, problem_responses


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
        user = await domain.user_by_id(session, link.user_id)
        assert user is not None  # the foreign key cascades deletes
        store_provider_tokens(identity, link, found)
        return user
    user = await domain.find_user_by_email(session, found.email) if found.email else None
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
            await domain.revoke_all_refresh_tokens(session, user.id)
            await domain.mark_email_verified(session, outbox, user)
    else:
        email = found.email or placeholder_email(found.provider, found.provider_user_id)
        user = await domain.create_user(
            session,
            email=domain.valid_email(email),
            name=(found.name.strip() or "Parla learner")[:255],
            password_hash=None,
            avatar_url=found.avatar_url if found.avatar_url and len(found.avatar_url) <= 500 else None,
            is_email_verified=found.email is not None and found.email_verified,
        )
        await outbox.add(
            session,
            events.USER_REGISTERED,
            events.UserRegistered(
                user_id=user.id,
                timezone=user.timezone,
                daily_xp_goal=user.daily_xp_goal,
                method=found.provider,
            ),
            subject_id=user.id,
            actor_id=user.id,
            version=events.PERSONAL_DATA_VERSION,
        )
    link = OAuthProvider(user_id=user.id, provider=found.provider, provider_user_id=found.provider_user_id)
    store_provider_tokens(identity, link, found)
    session.add(link)
    await session.flush()
    return user


# The browser that started a login holds its state in this cookie; the callback must come from that browser, so
# nobody can complete a login they started (with their own provider account) in someone else's browser.
STATE_COOKIE = "parla_oauth_state"


def state_cookie(settings: IdentitySettings, value: str, max_age: int) -> Cookie:
    """HttpOnly, SameSite=Lax (sent on the provider's top-level redirect back), Secure when the public URL is https,
    and only for the OAuth routes."""
    return Cookie(
        key=STATE_COOKIE,
        value=value,
        max_age=max_age,
        path=urlsplit(settings.redirect_uri_base).path or "/",
        httponly=True,
        secure=settings.public_url.startswith("https://"),
        samesite="lax",
    )


def require_same_browser(cookie_state: str | None, oauth_state: str) -> None:
    if cookie_state is None or not secrets.compare_digest(cookie_state.encode(), oauth_state.encode()):
        raise Problem(
            400,
            "OAuth login from another browser",
            "this login was not started in this browser; start it again from the app",
        )


class OAuthController(Controller):
    path = "/auth/oauth"
    tags = ["auth"]
    # Finds or links the account of a provider identity before a user is known: a named system path.
    opt = route_system_path(SystemPath.SIGN_IN)

    @get(
        "/{provider:str}/authorize",
        summary="Redirect to the provider's login (google, tiktok)",
        status_code=302,
        responses=problem_responses(404, 429, 502, 503),
    )
    async def oauth_authorize(
        self,
        provider: FromPath[str],
        identity: NamedDependency[Identity],
        oauth_clients: NamedDependency[OAuthClients],
        db_session: NamedDependency[AsyncSession],
    ) -> Redirect:
        await domain.limit_requests(
            db_session,
            identity.settings,
            "oauth_authorize",
            ip=request_context.get().ip,
            email=None,
            detail="too many provider logins",
        )
        url, state = await oauth_clients.authorization_url(db_session, provider)
        await db_session.commit()  # the request session commits only on 2xx; the state must outlive this 302
        settings = identity.settings
        return Redirect(
            path=url, status_code=302, cookies=[state_cookie(settings, state, settings.oauth_state_ttl_seconds)]
        )

    @get(
        "/{provider:str}/callback",
        summary="Finish a provider login: the token pair (account linked or created)",
        description=(
            f"Only in the browser that called authorize: the `{STATE_COOKIE}` cookie set there must hold the `state` "
            "(a 400 problem otherwise)."
        ),
        responses=problem_responses(400, 401, 404, 409, 502, 503),
    )
    async def oauth_callback(
        self,
        *,
        provider: FromPath[str],
        identity: NamedDependency[Identity],
        oauth_clients: NamedDependency[OAuthClients],
        db_session: NamedDependency[AsyncSession],
        outbox: NamedDependency[Outbox],
        code: FromQuery[str | None] = None,
        oauth_state: Annotated[str | None, QueryParameter(name="state")] = None,
        error: FromQuery[str | None] = None,
        cookie_state: Annotated[str | None, CookieParameter(name=STATE_COOKIE)] = None,
    ) -> Response[TokenPair]:
        oauth_clients.require_configured(provider)
        if error:
            raise Problem(400, "OAuth login refused", f"{provider} answered: {error}")
        if not code or not oauth_state:
            raise Problem(400, "OAuth callback incomplete", "the callback needs both code and state")
        require_same_browser(cookie_state, oauth_state)
        found = await oauth_clients.complete(db_session, provider, code, oauth_state)
        user = await user_for_provider(identity, db_session, outbox, found)
        pair = await domain.issue_token_pair(identity, db_session, user)
        context = request_context.get()
        await outbox.add(
            db_session,
            events.USER_LOGGED_IN,
            events.UserLoggedIn(user_id=user.id, method=provider, ip=context.ip, user_agent=context.user_agent),
            subject_id=user.id,
            actor_id=user.id,
        )
        # The state is used up: so is the cookie that bound it to this browser.
        return Response(pair, cookies=[state_cookie(identity.settings, "", 0)])
