"""The outbox, inbox and dead-letter tables every service keeps in its own schema."""

from __future__ import annotations

from sqlalchemy import (
    TIMESTAMP,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID


class MessagingTables:
    """Core tables (not ORM models) so the same definitions serve every schema."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.metadata = MetaData(schema=schema)
        self.outbox = Table(
            "outbox",
            self.metadata,
            Column("id", UUID(as_uuid=True), primary_key=True),
            Column("subject", String(255), nullable=False),
            Column("payload", JSONB, nullable=False),
            Column("created_at", TIMESTAMP(timezone=True), nullable=False, server_default=text("now()")),
            Column("published_at", TIMESTAMP(timezone=True)),
            Column("attempts", Integer, nullable=False, server_default=text("0")),
            Column("next_attempt_at", TIMESTAMP(timezone=True), nullable=False, server_default=text("now()")),
            Column("last_error", Text),
            Index(
                "ix_outbox_unpublished",
                "next_attempt_at",
                "created_at",
                postgresql_where=text("published_at IS NULL"),
            ),
            Index("ix_outbox_published_at", "published_at", postgresql_where=text("published_at IS NOT NULL")),
        )
        self.inbox = Table(
            "inbox",
            self.metadata,
            Column("event_id", UUID(as_uuid=True), primary_key=True),
            Column("consumer", String(100), primary_key=True),
            Column("subject", String(255), nullable=False),
            Column("received_at", TIMESTAMP(timezone=True), nullable=False, server_default=text("now()")),
        )
        self.dead_letters = Table(
            "dead_letters",
            self.metadata,
            Column("event_id", UUID(as_uuid=True), primary_key=True),
            Column("consumer", String(100), primary_key=True),
            Column("subject", String(255), nullable=False),
            Column("payload", JSONB),
            Column("raw_payload", Text),
            Column("deliveries", Integer, nullable=False),
            Column("error", Text, nullable=False),
            Column("created_at", TIMESTAMP(timezone=True), nullable=False, server_default=text("now()")),
        )

    @property
    def notify_channel(self) -> str:
        """LISTEN/NOTIFY channel the relay sleeps on."""
        return f"{self.schema}_outbox"
