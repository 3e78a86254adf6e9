"""``/auth/*``: register, verify email, log in, refresh, log out, password reset."""

from __future__ import annotations

from litestar import Controller, Response, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity.api.schemas import (
    Accepted,
    LoginRequest,
    LogoutRequest,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    UserRead,
    Verified,
    VerifyEmailRequest,
    user_read,
)
from parla_identity.use_cases import auth
from parla_identity.use_cases.context import Identity
from parla_shared.db import SystemPath, route_system_path
from parla_shared.events.outbox import Outbox
from parla_shared.problems import problem_responses


def verification_mail(identity: Identity, email: str, name: str, token: str) -> BackgroundTask:
    body = (
        f"Hello {name},\n\nWelcome to Parla! Confirm your email address with this code:\n\n{token}\n\n"
        f"or open {identity.settings.public_url.rstrip('/')}/verify-email?token={token}\n"
    )
    return BackgroundTask(identity.mailer.send, email, "Confirm your Parla email address", body)


def reset_mail(identity: Identity, email: str, name: str, token: str) -> BackgroundTask:
    minutes = identity.settings.password_reset_ttl_minutes
    link = f"{identity.settings.public_url.rstrip('/')}/reset-password?token={token}"
    body = (
        f"Hello {name},\n\nSomeone asked to reset your Parla password. If it was you, use this code within "
        f"{minutes} minutes:\n\n{token}\n\nor open {link}\n"
        "\nIf it was not you, ignore this message.\n"
    )
    return BackgroundTask(identity.mailer.send, email, "Reset your Parla password", body)


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]
    # Before a user is known (lookups by email, refresh or one-time token): a named system path for
    # row-level security (docs/decisions.md "Security").
    opt = route_system_path(SystemPath.SIGN_IN)

    @post(
        "/register",
        summary="Create an account and mail a verification code",
        responses=problem_responses(409, 422, 429),
    )
    async def register(
        self,
        data: JSONBody[RegisterRequest],
        identity: NamedDependency[Identity],
        db_session: NamedDependency[AsyncSession],
        outbox: NamedDependency[Outbox],
    ) -> Response[UserRead]:
        user, token = await auth.register(identity, db_session, outbox, data)
        mail = verification_mail(identity, user.email, user.name, token)
        return Response(user_read(user), status_code=201, background=mail)

    @post(
        "/verify-email", status_code=HTTP_200_OK, summary="Confirm the email address", responses=problem_responses(400)
    )
    async def verify_email(
        self,
        data: JSONBody[VerifyEmailRequest],
        db_session: NamedDependency[AsyncSession],
        outbox: NamedDependency[Outbox],
    ) -> Verified:
        user = await auth.verify_email(db_session, outbox, data.token)
        return Verified(user_id=user.id, is_email_verified=True)

    @post(
        "/login",
        status_code=HTTP_200_OK,
        summary="Log in with email and password",
        responses=problem_responses(401, 429),
        security=[],
    )
    async def login(
        self,
        data: JSONBody[LoginRequest],
        identity: NamedDependency[Identity],
        db_session: NamedDependency[AsyncSession],
        outbox: NamedDependency[Outbox],
    ) -> TokenPair:
        return await auth.login(identity, db_session, outbox, data.email, data.password)

    @post(
        "/refresh",
        status_code=HTTP_200_OK,
        summary="Exchange a refresh token for a new pair",
        responses=problem_responses(401),
    )
    async def refresh(
        self,
        data: JSONBody[RefreshRequest],
        identity: NamedDependency[Identity],
        db_session: NamedDependency[AsyncSession],
    ) -> TokenPair:
        return await auth.refresh(identity, db_session, data.refresh_token)

    @post("/logout", status_code=HTTP_204_NO_CONTENT, summary="Revoke the refresh token's session")
    async def logout(
        self, data: JSONBody[LogoutRequest], db_session: NamedDependency[AsyncSession], outbox: NamedDependency[Outbox]
    ) -> None:
        await auth.logout(db_session, outbox, data.refresh_token)

    @post(
        "/password-reset",
        status_code=HTTP_202_ACCEPTED,
        summary="Mail a password-reset code (202 whether or not the account exists)",
        responses=problem_responses(429),
    )
    async def request_password_reset(
        self,
        data: JSONBody[PasswordResetRequest],
        identity: NamedDependency[Identity],
        db_session: NamedDependency[AsyncSession],
        outbox: NamedDependency[Outbox],
    ) -> Response[Accepted]:
        accepted = Accepted(detail="if an account with this email exists, a reset code has been sent")
        requested = await auth.request_password_reset(identity, db_session, outbox, data.email)
        if requested is None:
            return Response(accepted, status_code=HTTP_202_ACCEPTED)
        user, token = requested
        return Response(
            accepted, status_code=HTTP_202_ACCEPTED, background=reset_mail(identity, user.email, user.name, token)
        )

    @post(
        "/password-reset/confirm",
        status_code=HTTP_204_NO_CONTENT,
        summary="Set a new password with a reset code (works once)",
        responses=problem_responses(400, 422),
    )
    async def confirm_password_reset(
        self,
        data: JSONBody[PasswordResetConfirm],
        identity: NamedDependency[Identity],
        db_session: NamedDependency[AsyncSession],
        outbox: NamedDependency[Outbox],
    ) -> None:
        await auth.confirm_password_reset(identity, db_session, outbox, data.token, data.new_password)
