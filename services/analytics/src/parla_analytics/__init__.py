"""Parla analytics service: Activity and tamper-evident audit logs, and learning analytics."""
