"""The local platform: embedded PostgreSQL and NATS, the four services and the Caddy gateway (``make run``/``make test``)."""
