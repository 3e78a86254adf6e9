"""``/auth/*``: register, verify email, log in, refresh, log out, password reset."""

from __future__ import annotations

from datetime import timedelta

from litestar import Controller, Response, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity import domain, events
from parla_identity.domain import Identity
from parla_identity.passwords import hash_password, verify_password
from parla_identity.schemas import (
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
)
from parla_shared.context import request_context
from parla_shared.db import SystemPath, route_system_path
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem, problem_responses


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
        await domain.limit_requests(
            db_session,
            identity.settings,
            "register",
            ip=request_context.get().ip,
            email=data.email,
            detail="too many registrations",
        )
        email = domain.valid_email(data.email)
        if email.lower().endswith(domain.PLACEHOLDER_EMAIL_DOMAIN):
            # Reserved for provider accounts without an email (TikTok): a password account there would take the
            # address a provider login needs, and could never be mailed.
            raise domain.invalid("email", f"addresses ending in {domain.PLACEHOLDER_EMAIL_DOMAIN} are reserved")
        domain.valid_password(data.password)
        name = domain.valid_name(data.name)
        timezone = domain.valid_timezone(data.timezone) if data.timezone is not None else "UTC"
        goal = domain.valid_daily_xp_goal(data.daily_xp_goal) if data.daily_xp_goal is not None else 20
        if await domain.email_taken(db_session, email):
            raise Problem(409, "Email taken", "an account with this email already exists")
        await domain.release_connection(db_session)  # no connection held while bcrypt runs
        password_hash = await hash_password(data.password, identity.settings.bcrypt_rounds)
        try:
            user = await domain.create_user(
                db_session, email=email, name=name, password_hash=password_hash, timezone=timezone, daily_xp_goal=goal
            )
        except IntegrityError as exc:  # a concurrent registration won the race for the email
            raise Problem(409, "Email taken", "an account with this email already exists") from exc
        token = await domain.issue_user_token(
            db_session,
            user.id,
            domain.EMAIL_VERIFICATION,
            timedelta(hours=identity.settings.email_verification_ttl_hours),
        )
        await outbox.add(
            db_session,
            events.USER_REGISTERED,
            events.UserRegistered(
                user_id=user.id,
                timezone=user.timezone,
                daily_xp_goal=user.daily_xp_goal,
                method="password",
            ),
            subject_id=user.id,
            actor_id=user.id,
            version=events.PERSONAL_DATA_VERSION,
        )
        return Response(
            domain.user_read(user), status_code=201, background=verification_mail(identity, email, name, token)
        )

    @post(
        "/verify-email", status_code=HTTP_200_OK, summary="Confirm the email address", responses=problem_responses(400)
    )
    async def verify_email(
        self,
        data: JSONBody[VerifyEmailRequest],
        db_session: NamedDependency[AsyncSession],
        outbox: NamedDependency[Outbox],
    ) -> Verified:
        user_id = await domain.consume_user_token(db_session, data.token, domain.EMAIL_VERIFICATION)
        user = await domain.user_by_id(db_session, user_id)
        if user is None:
            raise domain.invalid_token()
        await domain.mark_email_verified(db_session, outbox, user)
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
        settings = identity.settings
        context = request_context.get()
        account_key, *ip_keys = domain.throttle_keys(data.email, context.ip)
        retry_after = await domain.throttled_for(db_session, [account_key, *ip_keys])
        if retry_after is not None:
            raise Problem(
                429,
                "Too many failed logins",
                f"too many failed logins; try again in {retry_after} seconds",
                headers={"Retry-After": str(retry_after)},
            )
        user = await domain.find_user_by_email(db_session, data.email)
        await domain.release_connection(db_session)  # no connection held while bcrypt runs
        ok = await verify_password(data.password, user.password_hash if user else None, settings.bcrypt_rounds)
        if user is None or not ok:
            await domain.record_login_failure(
                db_session, settings, account_key, settings.login_max_failures_per_account
            )
            for key in ip_keys:
                await domain.record_login_failure(db_session, settings, key, settings.login_max_failures_per_ip)
            await db_session.commit()  # the failure counts stand although the answer is an error
            raise Problem(401, "Invalid credentials", "the email or password is wrong")
        await domain.clear_login_failures(db_session, account_key)
        pair = await domain.issue_token_pair(identity, db_session, user)
        await outbox.add(
            db_session,
            events.USER_LOGGED_IN,
            events.UserLoggedIn(user_id=user.id, method="password", ip=context.ip, user_agent=context.user_agent),
            subject_id=user.id,
            actor_id=user.id,
        )
        return pair

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
        try:
            return await domain.rotate_refresh_token(identity, db_session, data.refresh_token)
        except domain.RefreshTokenReusedError:
            await db_session.commit()  # the family stays revoked although the answer is an error
            raise Problem(
                401, "Refresh token reused", "the refresh token was already used; every token of its session is revoked"
            ) from None

    @post("/logout", status_code=HTTP_204_NO_CONTENT, summary="Revoke the refresh token's session")
    async def logout(
        self, data: JSONBody[LogoutRequest], db_session: NamedDependency[AsyncSession], outbox: NamedDependency[Outbox]
    ) -> None:
        user_id = await domain.logout(db_session, data.refresh_token)
        if user_id is not None:
            await outbox.add(
                db_session,
                events.USER_LOGGED_OUT,
                events.UserOnly(user_id=user_id),
                subject_id=user_id,
                actor_id=user_id,
            )

    @post(
        "/password-reset",
        status_code=HTTP_202_ACCEPTED,
        summary="Mail a password-reset code (202 whether or not the account exists)",
        responses=problem_responses(429),
    )
    async def password_reset(
        self,
        data: JSONBody[PasswordResetRequest],
        identity: NamedDependency[Identity],
        db_session: NamedDependency[AsyncSession],
        outbox: NamedDependency[Outbox],
    ) -> Response[Accepted]:
        # Counted for any address, known or not, so a 429 tells nothing about which accounts exist.
        await domain.limit_requests(
            db_session,
            identity.settings,
            "password_reset",
            ip=request_context.get().ip,
            email=data.email,
            detail="too many password-reset requests",
        )
        accepted = Accepted(detail="if an account with this email exists, a reset code has been sent")
        user = await domain.find_user_by_email(db_session, data.email)
        if user is None or user.email.endswith(domain.PLACEHOLDER_EMAIL_DOMAIN):
            return Response(accepted, status_code=HTTP_202_ACCEPTED)
        token = await domain.issue_user_token(
            db_session, user.id, domain.PASSWORD_RESET, timedelta(minutes=identity.settings.password_reset_ttl_minutes)
        )
        await outbox.add(
            db_session,
            events.USER_PASSWORD_RESET_REQUESTED,
            events.UserOnly(user_id=user.id),
            subject_id=user.id,
            actor_id=user.id,
        )
        return Response(
            accepted, status_code=HTTP_202_ACCEPTED, background=reset_mail(identity, user.email, user.name, token)
        )

    @post(
        "/password-reset/confirm",
        status_code=HTTP_204_NO_CONTENT,
        summary="Set a new password with a reset code (works once)",
        responses=problem_responses(400, 422),
    )
    async def password_reset_confirm(
        self,
        data: JSONBody[PasswordResetConfirm],
        identity: NamedDependency[Identity],
        db_session: NamedDependency[AsyncSession],
        outbox: NamedDependency[Outbox],
    ) -> None:
        domain.valid_password(data.new_password, "new_password")
        # A made-up code is refused before bcrypt runs (a quarter of a CPU second an anonymous caller could ask
        # for at will), and no connection is held while it runs; consuming the code re-checks it under a lock.
        await domain.check_user_token(db_session, data.token, domain.PASSWORD_RESET)
        await domain.release_connection(db_session)
        password_hash = await hash_password(data.new_password, identity.settings.bcrypt_rounds)
        user_id = await domain.consume_user_token(db_session, data.token, domain.PASSWORD_RESET)
        user = await domain.user_by_id(db_session, user_id)
        if user is None:
            raise domain.invalid_token()
        await domain.set_password_hash(db_session, user, password_hash)
        await domain.clear_login_failures(db_session, domain.throttle_keys(user.email, None)[0])
        await outbox.add(
            db_session,
            events.USER_PASSWORD_RESET,
            events.UserOnly(user_id=user.id),
            subject_id=user.id,
            actor_id=user.id,
        )
