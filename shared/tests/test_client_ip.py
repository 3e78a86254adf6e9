"""The client IP behind proxies: only trusted proxies' ``X-Forwarded-For`` entries count, read from the right."""

from __future__ import annotations

import ipaddress
from typing import cast

import pytest
from litestar.types import Scope

from parla_shared.middleware import client_ip
from parla_shared.settings import ServiceSettings, SettingsError

TRUSTED = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))


def _scope(peer: str | None, *forwarded: str) -> Scope:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    # Only what client_ip reads: a complete HTTPScope would need a Litestar app and a route handler.
    return cast("Scope", {"type": "http", "client": (peer, 5000) if peer else None, "headers": headers})


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        pytest.param("127.0.0.1", ["203.0.113.7"], "203.0.113.7", id="gateway-appended-the-client"),
        # The attacker writes the leftmost entries; the gateway appends the address it saw.
        pytest.param("127.0.0.1", ["1.1.1.1, 203.0.113.7"], "203.0.113.7", id="spoofed-leftmost-entry"),
        pytest.param("127.0.0.1", ["1.1.1.1", "203.0.113.7"], "203.0.113.7", id="spoofed-in-a-second-header"),
        pytest.param("127.0.0.1", ["1.1.1.1, 203.0.113.7, 10.1.2.3"], "203.0.113.7", id="chain-of-trusted-proxies"),
        pytest.param("127.0.0.1", ["2001:db8::1"], "2001:db8::1", id="ipv6-client"),
        # A peer that is not a trusted proxy is the client, whatever it claims to forward for.
        pytest.param("198.51.100.9", ["1.1.1.1"], "198.51.100.9", id="untrusted-peer-ignored"),
        pytest.param("127.0.0.1", [], "127.0.0.1", id="direct-from-a-trusted-host"),
        pytest.param("127.0.0.1", ["10.9.9.9, 127.0.0.1"], "10.9.9.9", id="every-hop-trusted"),
        pytest.param("127.0.0.1", ["1.1.1.1, not-an-ip"], None, id="forged-garbage-gives-no-address"),
        pytest.param(None, ["1.1.1.1"], None, id="no-peer"),
    ],
)
def test_client_ip_is_the_rightmost_untrusted_entry(
    peer: str | None, forwarded: list[str], expected: str | None
) -> None:
    assert client_ip(_scope(peer, *forwarded), TRUSTED) == expected


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_ip(_scope("127.0.0.1", "1.1.1.1"), ()) == "127.0.0.1"


def test_trusted_proxies_setting_is_parsed_and_checked() -> None:
    base = {
        "service_name": "probe",
        "port": 1,
        "db_schema": "probe",
        "database_url": "postgresql://x@h/db",
        "environment": "test",
    }
    settings = ServiceSettings.from_env({"PARLA_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1"}, **base)
    assert settings.trusted_proxy_networks == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.168.1.1/32"),
    )
    with pytest.raises(SettingsError, match="PARLA_TRUSTED_PROXIES"):
        ServiceSettings.from_env({"PARLA_TRUSTED_PROXIES": "10.0.0.0/8,gateway"}, **base)
