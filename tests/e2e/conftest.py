from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture(scope="session")
def gateway() -> Iterator[httpx.Client]:
    """The platform as `make run` starts it, reached only through the Caddy gateway."""
    url = os.environ.get("PARLA_TEST_GATEWAY_URL")
    if not url:
        pytest.fail("PARLA_TEST_GATEWAY_URL is not set: run the tests with `make test`")
    with httpx.Client(base_url=url, timeout=10) as client:
        yield client
