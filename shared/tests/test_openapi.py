"""Every error a service answers is in its OpenAPI document, as the application/problem+json it really is."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from parla_shared.auth import requires_user
from parla_shared.openapi import document_problems
from parla_shared.problems import PROBLEM_JSON, problem_responses
from parla_shared.service import ServiceDefinition, build_service_app
from parla_shared.settings import ServiceSettings


class ProbeSettings(ServiceSettings, kw_only=True, frozen=True):
    # A real service's name and schema: settings look for that service's migrations.
    service_name: str = "analytics"
    port: int = 0
    db_schema: str = "analytics"


class ProbeController(Controller):
    path = "/probe"

    @get("/open")
    async def open_route(self) -> dict[str, str]:
        return {}

    @get("/things/{thing_id:uuid}", guards=[requires_user], security=[{"BearerToken": []}])
    async def thing(self, thing_id: FromPath[UUID]) -> dict[str, str]:
        return {}

    @post("/limited", responses=problem_responses(409, 429))
    async def limited(self, data: JSONBody[dict[str, int]]) -> dict[str, int]:
        return data


def _document() -> dict[str, Any]:
    settings = ProbeSettings.from_env(
        {"PARLA_DATABASE_URL": "postgresql://localhost/probe", "PARLA_ENVIRONMENT": "test"}
    )
    app = build_service_app(ServiceDefinition(settings=settings, description="probe", route_handlers=[ProbeController]))
    document: dict[str, Any] = app.openapi_schema.to_schema()
    return document


def test_shared_errors_are_documented_where_they_can_happen() -> None:
    paths = _document()["paths"]
    assert set(paths["/probe/open"]["get"]["responses"]) == {"200", "401", "503"}  # forged token; shed
    assert set(paths["/probe/things/{thing_id}"]["get"]["responses"]) == {"200", "400", "401", "404", "503"}
    assert set(paths["/probe/limited"]["post"]["responses"]) == {"201", "400", "401", "409", "429", "503"}


def test_every_error_response_is_a_problem_document() -> None:
    for item in _document()["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["content"] == {
                        PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}
                    }, (status, response)


def test_a_429_documents_its_retry_after_header() -> None:
    response = _document()["paths"]["/probe/limited"]["post"]["responses"]["429"]
    assert response["headers"]["Retry-After"]["required"] is True
    assert response["headers"]["Retry-After"]["schema"]["type"] == "integer"


def test_the_probes_are_never_shed_so_document_no_503_of_it() -> None:
    settings = ProbeSettings.from_env(
        {"PARLA_DATABASE_URL": "postgresql://localhost/probe", "PARLA_ENVIRONMENT": "test"}
    )
    app = build_service_app(ServiceDefinition(settings=settings, description="probe", route_handlers=[ProbeController]))
    paths = app.openapi_schema.to_schema()["paths"]
    assert "503" not in paths["/health"]["get"]["responses"]
    assert "Retry-After" not in paths["/ready"]["get"]["responses"]["503"].get("headers", {})


def test_documenting_twice_changes_nothing() -> None:
    settings = ProbeSettings.from_env(
        {"PARLA_DATABASE_URL": "postgresql://localhost/probe", "PARLA_ENVIRONMENT": "test"}
    )
    app = build_service_app(ServiceDefinition(settings=settings, description="probe", route_handlers=[ProbeController]))
    before = app.openapi_schema.to_schema()
    document_problems(app.openapi_schema)
    assert app.openapi_schema.to_schema() == before
