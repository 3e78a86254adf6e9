"""The identity service's settings (``PARLA_*``)."""

from __future__ import annotations

from parla_shared.settings import ServiceSettings


class IdentitySettings(ServiceSettings, kw_only=True, frozen=True):
    service_name: str = "identity"
    port: int = 8001
    db_schema: str = "identity"
