"""The local platform: embedded PostgreSQL and NATS, four services and the Caddy gateway (make run, make test)."""
