"""Builds the analytics service's Litestar app from its settings."""

from __future__ import annotations

from litestar import Litestar

from parla_analytics.api import ActivityController, AuditController, ReportsController
from parla_analytics.checkpoints import CheckpointFile, maintain_checkpoints
from parla_analytics.consumers import subscriptions
from parla_analytics.partitions import maintain_partitions
from parla_analytics.settings import AnalyticsSettings
from parla_shared.service import ServiceDefinition, build_service_app


def create_app(settings: AnalyticsSettings | None = None) -> Litestar:
    settings = settings or AnalyticsSettings.from_env()
    return build_service_app(
        ServiceDefinition(
            settings=settings,
            description="Activity and tamper-evident audit logs, and learning analytics.",
            route_handlers=[ActivityController, AuditController, ReportsController],
            subscriptions=subscriptions(settings.audit_key),
            background_tasks=[maintain_partitions, maintain_checkpoints],
            state={"audit_checkpoints": CheckpointFile(settings.audit_checkpoint_file, settings.audit_key)},
        )
    )
