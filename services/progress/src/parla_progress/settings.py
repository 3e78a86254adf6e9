"""The progress service's settings (``PARLA_*``)."""

from __future__ import annotations

from parla_shared.settings import ServiceSettings


class ProgressSettings(ServiceSettings, kw_only=True, frozen=True):
    service_name: str = "progress"
    port: int = 8003
    db_schema: str = "progress"
