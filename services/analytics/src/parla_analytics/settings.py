"""The analytics service's settings (``PARLA_*``)."""

from __future__ import annotations

from parla_shared.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings, kw_only=True, frozen=True):
    service_name: str = "analytics"
    port: int = 8004
    db_schema: str = "analytics"
