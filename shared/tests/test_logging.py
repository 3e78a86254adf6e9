from __future__ import annotations

import json
import logging

import pytest
import structlog

from parla_shared.logging import configure_logging


def test_logs_are_json_lines_with_service_and_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("probe", "INFO", json=True)
    structlog.contextvars.bind_contextvars(request_id="req-42")
    try:
        structlog.get_logger("parla.test").info("hello", answer=42)
        logging.getLogger("some.library").warning("from the standard library")
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    ours, library = lines[-2], lines[-1]
    assert ours["event"] == "hello"
    assert ours["answer"] == 42
    assert ours["request_id"] == "req-42"
    assert ours["service"] == "probe"
    assert ours["level"] == "info"
    assert library["event"] == "from the standard library"
    assert library["request_id"] == "req-42"


def _log_a_failure_holding_a_secret() -> None:
    password = "Hunter2-secret"  # the value the log must not carry
    try:
        raise ValueError(f"{len(password)} characters")
    except ValueError:
        structlog.get_logger("parla.test").exception("request failed")


@pytest.mark.parametrize("json_lines", [True, False])
def test_a_logged_exception_has_its_traceback_but_no_local_values(
    capsys: pytest.CaptureFixture[str], *, json_lines: bool
) -> None:
    configure_logging("probe", "INFO", json=json_lines)
    try:
        _log_a_failure_holding_a_secret()
    finally:
        configure_logging("probe", "INFO", json=True)
    out = capsys.readouterr().out
    assert "ValueError" in out
    assert "_log_a_failure_holding_a_secret" in out
    assert "Hunter2-secret" not in out
    if json_lines:
        record = json.loads(out.splitlines()[-1])
        assert record["event"] == "request failed"
        assert record["exception"][0]["exc_type"] == "ValueError"
