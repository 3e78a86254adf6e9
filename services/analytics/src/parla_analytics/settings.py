"""The analytics service's settings (``PARLA_*``)."""

from __future__ import annotations

from parla_shared.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings, kw_only=True, frozen=True):
    service_name: str = "analytics"
    port: int = 8004
    db_schema: str = "analytics"
    # Monthly log partitions are kept ready for the current month and this many months ahead.
    partition_months_ahead: int = 3
    partition_check_seconds: float = 3600.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.partition_months_ahead <= 24:
            raise ValueError("partition_months_ahead must be between 0 and 24")
        if self.partition_check_seconds <= 0:
            raise ValueError("partition_check_seconds must be positive")
