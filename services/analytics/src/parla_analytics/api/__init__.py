"""The analytics HTTP API."""

from parla_analytics.api.activity import ActivityController
from parla_analytics.api.audit import AuditController
from parla_analytics.api.reports import ReportsController

__all__ = ["ActivityController", "AuditController", "ReportsController"]
