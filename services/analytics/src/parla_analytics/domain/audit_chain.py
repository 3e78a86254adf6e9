"""The audit chain's rule: ``hash = HMAC-SHA256(audit key, prev_hash || canonical JSON of the entry)``, chained in
``seq`` order. Pure: the same entry and key always hash alike, whoever computes it."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq",
    "id",
    "admin_user_id",
    "action",
    "table_name",
    "record_id",
    "old_values",
    "new_values",
    "ip_address",
    "created_at",
)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool | dict | list):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return str(value)  # UUIDs, IP addresses


def canonical_entry(entry: Mapping[str, Any] | RowMapping) -> str:
    """The entry's hashed fields as canonical JSON: sorted keys, no whitespace, UTF-8."""
    return json.dumps(
        {field: _plain(entry[field]) for field in HASHED_FIELDS},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def entry_hash(key: bytes, prev_hash: str, entry: Mapping[str, Any] | RowMapping) -> str:
    return hmac.new(key, (prev_hash + canonical_entry(entry)).encode("utf-8"), hashlib.sha256).hexdigest()
