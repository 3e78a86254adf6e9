"""The analytics HTTP API."""

from parla_analytics.controllers.activity import ActivityController
from parla_analytics.controllers.audit import AuditController
from parla_analytics.controllers.reports import ReportsController

__all__ = ["ActivityController", "AuditController", "ReportsController"]
