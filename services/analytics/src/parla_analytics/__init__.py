"""Parla analytics service: activity and tamper-evident audit logs, and learning analytics.

Where each kind of code lives (the same in every service, docs/decisions.md "One shape for every service"):

- ``app.py``: wiring only; ``settings.py``: its settings.
- ``api/``: the controllers (activity, audit log, reports) and their structs (``api/schemas.py``).
- ``domain/``: pure rules: the audit chain's hash (``audit_chain``), the activity log's days, weeks, addresses
  and ids (``activity``).
- ``use_cases/``: recording activity and its rollups (``activity``), appending to and verifying the audit chain
  (``audit_log``), the reports (``reports``).
- ``consumers.py``: the subscriptions: every context's events, decoded into their contracts
  (``parla_shared.contracts``), routed to the use cases. Analytics publishes no events of its own.
- Also here: ``checkpoints.py`` (signed checkpoints of the audit chain kept outside the database) and
  ``partitions.py`` (monthly partitions made ahead), the service's two background tasks.
- No ``models.py``: analytics writes partitioned, append-only tables and rollups with SQL written for them
  (``INSERT … ON CONFLICT`` into partitions, rollup upserts, a keyset-paged cursor over the chain); the tables
  are declared by its migrations.
"""
