"""The fault suite's tools (issue 13), one module per part:

- ``harness.platform``: ``FaultPlatform``, the platform under test and how a case reaches into it;
- ``harness.clients``: learners and an admin at work through the gateway while a fault is injected (``Clients``,
  ``Load``), every request retried until it succeeds and recorded as its client saw it;
- ``harness.invariants``: the checks run afterwards against what every client was told;
- ``harness.report``: the run's table of failures seen, events lost or doubled and recovery times.
"""
