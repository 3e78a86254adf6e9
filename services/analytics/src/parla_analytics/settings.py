"""The analytics service's settings (``PARLA_*``)."""

from __future__ import annotations

from pathlib import Path

from parla_shared.secret_policy import weak_secret_reason
from parla_shared.settings import ServiceSettings, env_name

# For `make run` and tests only: outside development it is refused like every development secret.
DEV_AUDIT_HMAC_KEY = "parla-dev-audit-hmac-key-change-me"


class AnalyticsSettings(ServiceSettings, kw_only=True, frozen=True):
    service_name: str = "analytics"
    port: int = 8004
    db_schema: str = "analytics"
    # Monthly log partitions are kept ready for the current month and this many months ahead.
    partition_months_ahead: int = 3
    partition_check_seconds: float = 3600.0
    # The audit chain's HMAC key: a secret of this service, never stored in the database (docs/decisions.md).
    audit_hmac_key: str = DEV_AUDIT_HMAC_KEY
    # Signed checkpoints of the chain head (JSON lines); empty = <data dir>/audit/checkpoints.jsonl.
    audit_checkpoint_path: str = ""
    audit_checkpoint_seconds: float = 60.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.partition_months_ahead <= 24:
            raise ValueError("partition_months_ahead must be between 0 and 24")
        if self.partition_check_seconds <= 0:
            raise ValueError("partition_check_seconds must be positive")
        if self.audit_checkpoint_seconds <= 0:
            raise ValueError("audit_checkpoint_seconds must be positive")
        if not self.audit_hmac_key:
            raise ValueError("audit_hmac_key must not be empty")

    def weak_secrets(self) -> dict[str, str]:
        problems = super().weak_secrets()
        reason = weak_secret_reason(self.audit_hmac_key, development_values=(DEV_AUDIT_HMAC_KEY,))
        if reason is not None:
            problems[env_name("audit_hmac_key")] = reason
        return problems

    @property
    def audit_key(self) -> bytes:
        return self.audit_hmac_key.encode("utf-8")

    @property
    def audit_checkpoint_file(self) -> Path:
        return (
            Path(self.audit_checkpoint_path)
            if self.audit_checkpoint_path
            else self.data_path / "audit" / "checkpoints.jsonl"
        )
