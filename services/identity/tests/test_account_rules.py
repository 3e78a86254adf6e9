"""Identity's pure account rules, without a database or HTTP: a refused field raises InvalidFieldError naming it."""

from __future__ import annotations

import pytest

from parla_identity.domain import accounts as rules
from parla_shared.contracts.identity import DAILY_XP_GOALS, DEFAULT_DAILY_XP_GOAL
from parla_shared.problems import InvalidFieldError


@pytest.mark.parametrize("email", ["ana@example.com", " Ana.Perez+es@sub.example.co.uk "])
def test_valid_emails_pass_stripped(email: str) -> None:
    assert rules.valid_email(email) == email.strip()


@pytest.mark.parametrize("email", ["", "ana", "ana@", "@example.com", "ana@example", "a" * 250 + "@example.com"])
def test_invalid_emails_name_the_field(email: str) -> None:
    with pytest.raises(InvalidFieldError) as refused:
        rules.valid_email(email, "login_email")
    assert refused.value.field == "login_email"


def test_the_placeholder_domain_is_reserved_for_provider_accounts() -> None:
    with pytest.raises(InvalidFieldError, match="reserved"):
        rules.valid_registration_email(f"someone{rules.PLACEHOLDER_EMAIL_DOMAIN}")


@pytest.mark.parametrize("goal", DAILY_XP_GOALS)
def test_each_daily_goal_choice_passes(goal: int) -> None:
    assert rules.valid_daily_xp_goal(goal) == goal


def test_a_goal_outside_the_choices_lists_them() -> None:
    with pytest.raises(InvalidFieldError, match="10, 20, 30, 50") as refused:
        rules.valid_daily_xp_goal(25)
    assert refused.value.field == "daily_xp_goal"
    assert DEFAULT_DAILY_XP_GOAL in DAILY_XP_GOALS


@pytest.mark.parametrize("timezone", ["Europe/Madrid", "UTC", "America/Argentina/Buenos_Aires"])
def test_iana_time_zones_pass(timezone: str) -> None:
    assert rules.valid_timezone(timezone) == timezone


@pytest.mark.parametrize("timezone", ["", "Mars/Olympus", "/etc/passwd", "../UTC", "x" * 51])
def test_other_time_zones_are_refused(timezone: str) -> None:
    with pytest.raises(InvalidFieldError):
        rules.valid_timezone(timezone)


@pytest.mark.parametrize("name", ["", "   ", "n" * 256])
def test_names_are_1_to_255_characters(name: str) -> None:
    with pytest.raises(InvalidFieldError):
        rules.valid_name(name)


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "https://", "https://" + "a" * 500])
def test_avatar_urls_are_short_http_urls(url: str) -> None:
    with pytest.raises(InvalidFieldError):
        rules.valid_avatar_url(url)
    assert rules.valid_avatar_url(None) is None
