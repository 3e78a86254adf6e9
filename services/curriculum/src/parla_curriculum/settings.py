"""The curriculum service's settings (``PARLA_*``)."""

from __future__ import annotations

from parla_shared.settings import ServiceSettings


class CurriculumSettings(ServiceSettings, kw_only=True, frozen=True):
    service_name: str = "curriculum"
    port: int = 8002
    db_schema: str = "curriculum"
