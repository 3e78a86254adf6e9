"""Every service's OpenAPI document tells the truth: schemathesis generates requests from it (valid ones, and ones
that break it) and sends them through the gateway as a learner and as an admin. No answer may be a 5xx, and every
status code, content type, header and body must be one the document describes for that operation; a request
that breaks the document must be refused with a 4xx.

Bounded: a few examples per operation and generation mode, derandomized (the same requests on every run), no
shrinking. Left out, and why:
- ``DELETE /users/me`` erases the caller: run as the learner it would end the learner's run half-way; erasure is
  covered by the identity and e2e suites.
- Admin ``DELETE /admin/users/{user_id}`` and the admin curriculum ``DELETE``s are run, but only ever see
  generated ids (404): the admin's own id and the seeded course are never generated.
- ``/health`` and ``/ready`` are probed by the deployment tests, not fuzzed.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

SERVICES = ("identity", "curriculum", "progress", "analytics")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES = {GenerationMode.POSITIVE: 8, GenerationMode.NEGATIVE: 4}
LEFT_OUT = {("DELETE", "/users/me"), ("GET", "/health"), ("GET", "/ready")}
# The bearer token is given by the test (it is not generated, so it is not "left out" by a negative case), and a
# query parameter the operation does not name is ignored, as HTTP APIs do, rather than refused.
CONFIG = schemathesis.Config.from_dict(
    {"generation": {"with-security-parameters": False, "allow-extra-parameters": False}}
)
ADMIN = {"email": "admin@parla.local", "password": os.environ.get("PARLA_ADMIN_PASSWORD", "ParlaAdmin1!")}


@pytest.fixture(scope="module")
def tokens(gateway: httpx.Client) -> dict[str, dict[str, str]]:
    """A fresh learner's and the dev admin's bearer headers, obtained through the API."""
    email = f"fuzz-{uuid.uuid4().hex[:10]}@example.com"
    password = "Fuzz-pass-123"
    registered = gateway.post(
        "/api/identity/auth/register", json={"email": email, "password": password, "name": "Fuzz"}
    )
    assert registered.status_code == 201, registered.text
    headers = {}
    for role, credentials in (("learner", {"email": email, "password": password}), ("admin", ADMIN)):
        login = gateway.post("/api/identity/auth/login", json=credentials)
        assert login.status_code == 200, login.text
        headers[role] = {"Authorization": f"Bearer {login.json()['access_token']}"}
    return headers


def _first_failure(operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str]) -> str | None:
    """Runs the operation's generated cases of one mode; its first failure, described, or None."""
    found: list[str] = []

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        if found:
            return
        try:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported below, the run goes on
            found.append(f"{operation.label} [{mode.value}]: {exc}\n  reproduce: {case.as_curl_command()}")

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid request can be generated"
        return None  # nothing in this operation can be broken (no parameters, no body): no negative case exists
    return found[0] if found else None


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("role", ["learner", "admin"])
def test_the_openapi_document_describes_every_answer(
    gateway: httpx.Client, tokens: dict[str, dict[str, str]], service: str, role: str
) -> None:
    base_url = f"{str(gateway.base_url).rstrip('/')}/api/{service}"
    schema = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json", config=CONFIG)
    failures: list[str] = []
    tested = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"an operation of the document cannot be read: {result!r}"
        operation = result.ok()
        if (operation.method.upper(), operation.path) in LEFT_OUT:
            continue
        # The learner runs everything (admin routes only to be refused); the admin runs the routes that refuse
        # someone (403), which is where being an admin changes the answer.
        if role == "admin" and "403" not in operation.definition.raw.get("responses", {}):
            continue
        tested += 1
        for mode in EXAMPLES:
            if (failure := _first_failure(operation, mode, base_url, tokens[role])) is not None:
                failures.append(failure)
    assert tested > 0
    assert not failures, "\n\n".join(failures)
