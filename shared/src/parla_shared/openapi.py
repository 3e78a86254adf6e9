"""The OpenAPI documents tell the truth about errors: every error a service answers is documented, as the
``application/problem+json`` it really is.

Handlers list their domain errors with ``problem_responses(...)``; what the shared wiring answers on every route is
added here once, after Litestar has built the document:

- 400 wherever a route takes parameters or a body (validation, in Litestar's own words documented as plain
  ``application/json`` with another shape: replaced by the problem document it really is);
- 401 on every route: a token that is malformed, expired or forged is refused before any route runs, even an
  anonymous one (and a route that declares a security requirement refuses a missing token too);
- 404 wherever the path has parameters (an unknown id);
- 503 on every route the in-flight limit can shed (all but the probes), with ``Retry-After``;
- every ``429`` carries its ``Retry-After`` header.

Every operation's ``operationId`` is its handler's name in lowerCamelCase (``confirm_password_reset`` →
``confirmPasswordReset``): stable while the handler keeps its name, and readable as the method name a generated SDK
gives it. A handler that serves several entities (the admin CRUD factory) names each operation itself.
"""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)

from parla_shared.overload import UNSHED_PATHS
from parla_shared.problems import PROBLEM_JSON, ProblemDocument, status_title

_METHODS = ("get", "put", "post", "delete", "patch")
_PROBLEM = OpenAPIMediaType(schema=Reference(ref=f"#/components/schemas/{ProblemDocument.__name__}"))
_RETRY_AFTER = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.INTEGER, minimum=1),
    required=True,
    description="Seconds until the limit lets the client in again",
)
# A shed request carries it; a 503 for an unreachable dependency may not.
_RETRY_AFTER_WHEN_SHED = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.INTEGER, minimum=1),
    required=False,
    description="Seconds to wait, when the service shed the request because it was at capacity",
)


def operation_id(route_handler: Any, http_method: str, _path_components: Any) -> str:
    """Litestar's ``operation_id_creator``: the handler's name in lowerCamelCase, the HTTP method first when one
    handler serves several methods."""
    words = str(route_handler.handler_name).strip("_").split("_")
    name = words[0] + "".join(word.title() for word in words[1:])
    if len(route_handler.http_methods) > 1:
        return http_method.lower() + name[:1].upper() + name[1:]
    return name


def _problem(status: str) -> OpenAPIResponse:
    return OpenAPIResponse(description=status_title(int(status)), content={PROBLEM_JSON: _PROBLEM})


def _document_operation(operation: Operation, path: str) -> None:
    responses = operation.responses if operation.responses is not None else {}
    operation.responses = responses
    has_input = bool(operation.parameters) or operation.request_body is not None or "{" in path
    wanted = {"400": has_input, "401": True, "404": "{" in path, "503": path not in UNSHED_PATHS}
    for status, needed in wanted.items():
        if needed and status not in responses:
            responses[status] = _problem(status)
    for status, response in list(responses.items()):
        if not status.isdigit() or int(status) < 400 or isinstance(response, Reference):
            continue
        response.content = {PROBLEM_JSON: _PROBLEM}
        if status == "429":
            response.headers = {**(response.headers or {}), "Retry-After": _RETRY_AFTER}
        elif status == "503" and path not in UNSHED_PATHS:
            response.headers = {**(response.headers or {}), "Retry-After": _RETRY_AFTER_WHEN_SHED}


def document_problems(openapi: OpenAPI) -> None:
    """Adds the shared error responses to every operation and makes every error response problem+json."""
    for path, item in (openapi.paths or {}).items():
        if isinstance(item, Reference):
            continue
        for method in _METHODS:
            operation = getattr(item, method)
            if operation is not None:
                _document_operation(operation, path)
