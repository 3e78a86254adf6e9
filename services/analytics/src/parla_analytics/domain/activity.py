"""Pure helpers of the activity log: ISO weeks, UTC days, addresses and ids as events carry them."""

from __future__ import annotations

import ipaddress
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID


def week_start(day: date) -> date:
    """The Monday starting ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def utc_date(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def valid_ip(value: str | None) -> str | None:
    """The address if it is one (the envelope carries what the edge saw), otherwise nothing."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def as_uuid(value: Any) -> UUID | None:
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            return None
    return None
