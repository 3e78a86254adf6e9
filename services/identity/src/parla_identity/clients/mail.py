"""Outgoing mail: over SMTP when ``PARLA_SMTP_URL`` is set, otherwise ``.eml`` files under ``$PARLA_DATA_DIR/mail/``."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib
import structlog

from parla_identity.settings import IdentitySettings

_log = structlog.get_logger("parla.identity.mail")


class Mailer:
    def __init__(self, settings: IdentitySettings) -> None:
        self._settings = settings

    @property
    def mail_dir(self) -> Path:
        return self._settings.data_path / "mail"

    def message(self, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain="parla.local")
        message.set_content(body)
        return message

    async def send(self, to: str, subject: str, body: str) -> None:
        """Never raises: a mail that cannot be sent is logged (the user can ask for another one)."""
        message = self.message(to, subject, body)
        try:
            if self._settings.smtp_url:
                await self._send_smtp(message, self._settings.smtp_url)
            else:
                await asyncio.to_thread(self._write_eml, message)
        except Exception as exc:  # noqa: BLE001 - a mail failure must not fail the request that caused it
            _log.warning("mail not sent", subject=subject, error=str(exc))

    def _write_eml(self, message: EmailMessage) -> None:
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.mail_dir / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(bytes(message))
        temporary.rename(path)

    async def _send_smtp(self, message: EmailMessage, url: str) -> None:
        """``smtp://user:pass@host:port`` (STARTTLS if offered) or ``smtps://…`` (implicit TLS)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("PARLA_SMTP_URL must be smtp://host:port or smtps://host:port")
        implicit_tls = parts.scheme == "smtps"
        await aiosmtplib.send(
            message,
            hostname=parts.hostname,
            port=parts.port or (465 if implicit_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit_tls,
            start_tls=None if not implicit_tls else False,
            timeout=10,
        )
