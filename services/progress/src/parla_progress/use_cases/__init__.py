"""The use cases: one module per group; the only code that writes the outbox."""
