"""Signing up and in: register, verify the email, log in, refresh, log out, reset the password."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity import events
from parla_identity.api.schemas import RegisterRequest, TokenPair
from parla_identity.domain import accounts as account_rules
from parla_identity.domain.passwords import hash_password, verify_password
from parla_identity.models import User
from parla_identity.use_cases import accounts, limits, one_time_tokens, tokens
from parla_identity.use_cases.context import Identity
from parla_shared.context import request_context
from parla_shared.contracts.identity import DEFAULT_DAILY_XP_GOAL
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem


def _email_taken() -> Problem:
    return Problem(409, "Email taken", "an account with this email already exists")


async def register(
    identity: Identity, session: AsyncSession, outbox: Outbox, data: RegisterRequest
) -> tuple[User, str]:
    """The new account and its email-verification code (for the caller to mail)."""
    await limits.limit_requests(
        session,
        identity.settings,
        "register",
        email=data.email,
        detail="too many registrations",
    )
    email = account_rules.valid_registration_email(data.email)
    account_rules.valid_password(data.password)
    name = account_rules.valid_name(data.name)
    timezone = account_rules.valid_timezone(data.timezone) if data.timezone is not None else "UTC"
    goal = (
        account_rules.valid_daily_xp_goal(data.daily_xp_goal)
        if data.daily_xp_goal is not None
        else DEFAULT_DAILY_XP_GOAL
    )
    if await accounts.email_taken(session, email):
        raise _email_taken()
    await accounts.release_connection(session)  # no connection held while bcrypt runs
    password_hash = await hash_password(data.password, identity.settings.bcrypt_rounds)
    try:
        user = await accounts.create_user(
            session, email=email, name=name, password_hash=password_hash, timezone=timezone, daily_xp_goal=goal
        )
    except IntegrityError as exc:  # a concurrent registration won the race for the email
        raise _email_taken() from exc
    token = await one_time_tokens.issue_user_token(
        session,
        user.id,
        one_time_tokens.EMAIL_VERIFICATION,
        timedelta(hours=identity.settings.email_verification_ttl_hours),
    )
    await accounts.announce_registration(session, outbox, user, "password")
    return user, token


async def verify_email(session: AsyncSession, outbox: Outbox, token: str) -> User:
    user_id = await one_time_tokens.consume_user_token(session, token, one_time_tokens.EMAIL_VERIFICATION)
    user = await accounts.user_by_id(session, user_id)
    if user is None:
        raise one_time_tokens.invalid_token()
    await accounts.mark_email_verified(session, outbox, user)
    return user


async def login(identity: Identity, session: AsyncSession, outbox: Outbox, email: str, password: str) -> TokenPair:
    settings = identity.settings
    context = request_context.get()
    account_key, *ip_keys = limits.throttle_keys(email, context.ip)
    retry_after = await limits.throttled_for(session, [account_key, *ip_keys])
    if retry_after is not None:
        raise Problem(
            429,
            "Too many failed logins",
            f"too many failed logins; try again in {retry_after} seconds",
            headers={"Retry-After": str(retry_after)},
        )
    user = await accounts.find_user_by_email(session, email)
    await accounts.release_connection(session)  # no connection held while bcrypt runs
    ok = await verify_password(password, user.password_hash if user else None, settings.bcrypt_rounds)
    if user is None or not ok:
        await limits.record_login_failure(session, settings, account_key, settings.login_max_failures_per_account)
        for key in ip_keys:
            await limits.record_login_failure(session, settings, key, settings.login_max_failures_per_ip)
        await session.commit()  # the failure counts stand although the answer is an error
        raise Problem(401, "Invalid credentials", "the email or password is wrong")
    await limits.clear_login_failures(session, account_key)
    pair = await tokens.issue_token_pair(identity, session, user)
    await accounts.announce_login(session, outbox, user, "password")
    return pair


async def refresh(identity: Identity, session: AsyncSession, refresh_token: str) -> TokenPair:
    try:
        return await tokens.rotate_refresh_token(identity, session, refresh_token)
    except tokens.RefreshTokenReusedError:
        await session.commit()  # the family stays revoked although the answer is an error
        raise Problem(
            401, "Refresh token reused", "the refresh token was already used; every token of its session is revoked"
        ) from None


async def logout(session: AsyncSession, outbox: Outbox, refresh_token: str) -> None:
    user_id = await tokens.logout(session, refresh_token)
    if user_id is not None:
        await accounts.announce(session, outbox, user_id, events.USER_LOGGED_OUT, events.UserOnly(user_id=user_id))


async def request_password_reset(
    identity: Identity, session: AsyncSession, outbox: Outbox, email: str
) -> tuple[User, str] | None:
    """The account and its reset code (for the caller to mail), or None when no account can be mailed."""
    # Counted for any address, known or not, so a 429 tells nothing about which accounts exist.
    await limits.limit_requests(
        session,
        identity.settings,
        "password_reset",
        email=email,
        detail="too many password-reset requests",
    )
    user = await accounts.find_user_by_email(session, email)
    if user is None or user.email.endswith(account_rules.PLACEHOLDER_EMAIL_DOMAIN):
        return None
    token = await one_time_tokens.issue_user_token(
        session,
        user.id,
        one_time_tokens.PASSWORD_RESET,
        timedelta(minutes=identity.settings.password_reset_ttl_minutes),
    )
    await accounts.announce(
        session, outbox, user.id, events.USER_PASSWORD_RESET_REQUESTED, events.UserOnly(user_id=user.id)
    )
    return user, token


async def confirm_password_reset(
    identity: Identity, session: AsyncSession, outbox: Outbox, token: str, new_password: str
) -> None:
    account_rules.valid_password(new_password, "new_password")
    # A made-up code is refused before bcrypt runs (a quarter of a CPU second an anonymous caller could ask
    # for at will), and no connection is held while it runs; consuming the code re-checks it under a lock.
    await one_time_tokens.check_user_token(session, token, one_time_tokens.PASSWORD_RESET)
    await accounts.release_connection(session)
    password_hash = await hash_password(new_password, identity.settings.bcrypt_rounds)
    user_id = await one_time_tokens.consume_user_token(session, token, one_time_tokens.PASSWORD_RESET)
    user = await accounts.user_by_id(session, user_id)
    if user is None:
        raise one_time_tokens.invalid_token()
    await accounts.set_password_hash(session, user, password_hash)
    await limits.clear_login_failures(session, limits.throttle_keys(user.email, None)[0])
    await accounts.announce(session, outbox, user.id, events.USER_PASSWORD_RESET, events.UserOnly(user_id=user.id))
