"""``/auth/oauth/{provider}/authorize`` and ``…/callback``: social login with Google and TikTok."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from litestar import Controller, get
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import CookieParameter, FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Response
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity.api.schemas import TokenPair
from parla_identity.clients.oauth_providers import OAuthClients
from parla_identity.settings import IdentitySettings
from parla_identity.use_cases import limits, oauth_login
from parla_identity.use_cases.context import Identity
from parla_shared.db import SystemPath, route_system_path
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem, problem_responses

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
        await limits.limit_requests(
            db_session,
            identity.settings,
            "oauth_authorize",
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
        pair = await oauth_login.provider_login(identity, db_session, outbox, found)
        # The state is used up: so is the cookie that bound it to this browser.
        return Response(pair, cookies=[state_cookie(identity.settings, "", 0)])
