"""What analytics does over its database: record activity and its rollups (``activity``), append to and verify
the audit chain (``audit_log``), and answer the reports (``reports``)."""
