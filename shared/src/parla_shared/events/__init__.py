"""The event backbone: envelope, transactional outbox and relay, idempotent consumers, JetStream streams."""
