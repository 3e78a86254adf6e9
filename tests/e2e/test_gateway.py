from __future__ import annotations

import httpx
import pytest

SERVICES = ("identity", "curriculum", "progress", "analytics")


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_ready_through_the_gateway(gateway: httpx.Client, service: str) -> None:
    response = gateway.get(f"/api/{service}/ready")
    assert response.status_code == 200
    assert response.json()["service"] == service


@pytest.mark.parametrize("service", SERVICES)
def test_every_openapi_document_is_served(gateway: httpx.Client, service: str) -> None:
    document = gateway.get(f"/api/{service}/schema/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == f"Parla {service} API"


@pytest.mark.parametrize(
    "path",
    ["/internal/x", "/api/curriculum/internal/exercises/1/check", "/api/progress/internal", "/nowhere"],
)
def test_internal_and_unknown_paths_are_not_routed(gateway: httpx.Client, path: str) -> None:
    for method in ("GET", "POST"):
        response = gateway.request(method, path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")


def test_gateway_adds_a_request_id_and_keeps_a_given_one(gateway: httpx.Client) -> None:
    minted = gateway.get("/api/identity/health").headers["x-request-id"]
    assert len(minted) >= 16
    assert gateway.get("/api/identity/health", headers={"X-Request-ID": "abc-1"}).headers["x-request-id"] == "abc-1"
