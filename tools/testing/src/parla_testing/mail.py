"""What identity mailed on the platform ``parla-dev test`` started for a platform suite (e2e, browser): its
development mailer writes each mail as an ``.eml`` file under ``PARLA_TEST_DATA_DIR``."""

from __future__ import annotations

import os
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest


def mailed_code(email: str, subject_part: str, *, timeout: float = 20.0) -> str:
    """The code (``?token=…``) in the mail to ``email`` whose subject has ``subject_part``, once it is there."""
    mail_dir = Path(os.environ["PARLA_TEST_DATA_DIR"]) / "mail"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*.eml")):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            if message["To"] == email and subject_part in str(message["Subject"]):
                body = message.get_body(preferencelist=("plain",))
                assert body is not None
                return str(body.get_content()).split("?token=")[1].split()[0]
        time.sleep(0.1)
    pytest.fail(f"no mail '{subject_part}' to {email}")
