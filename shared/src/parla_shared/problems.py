"""RFC 9457 problem details for every error a service answers, validation errors included."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import asyncpg
import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DBAPIError

PROBLEM_JSON = "application/problem+json"
# SQLSTATEs for text PostgreSQL cannot store (a NUL character, a code point outside the encoding): bad input
# from the client, whichever field carried it, not a server fault.
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})
# The database is away for a moment (shutting down, restarting, not yet accepting connections, out of connection
# slots; class 08 is any lost or refused connection): the same request may succeed a moment later.
_DATABASE_AWAY = frozenset({"57P01", "57P02", "57P03", "53300"})
# What asyncpg raises on a connection that was lost under it (closed, reset, left mid-operation by the loss).
_CONNECTION_LOST = (asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError, ConnectionError)
DATABASE_UNAVAILABLE_DETAIL = "The database is not reachable at the moment; retry after the time given in Retry-After."
_log = structlog.get_logger("parla.problems")


class Problem(ProblemDetailsException):
    """A domain error to answer as problem+json: ``raise Problem(409, "Email taken", "...")``."""

    def __init__(
        self,
        status_code: int,
        title: str,
        detail: str = "",
        *,
        type_: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            detail=detail or title,
            status_code=status_code,
            title=title,
            type_=type_,
            extra=extra,
            headers=headers,
        )


class InvalidFieldError(ValueError):
    """A domain rule refusing one field of the input. Domain modules raise it without knowing about HTTP; every
    service answers it as a 422 problem naming the field (``problem_details_plugin``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def invalid_field(field: str, message: str) -> Problem:
    """The 422 problem naming one refused field (what an ``InvalidFieldError`` is answered with)."""
    return Problem(
        422,
        "Validation failed",
        message,
        extra={"errors": [{"key": field, "message": message, "source": "body"}]},
    )


def _invalid_field_to_problem(exc: InvalidFieldError) -> ProblemDetailsException:
    return invalid_field(exc.field, exc.message)


class FieldError(msgspec.Struct, frozen=True):
    message: str
    key: str | None = None
    source: str | None = None


class ProblemDocument(msgspec.Struct, frozen=True):
    """The shape of every error body (RFC 9457), as the OpenAPI documents describe it."""

    status: int
    title: str
    detail: str
    type: str | None = None
    errors: list[FieldError] | None = None


def problem_responses(*status_codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problems a route can answer."""
    return {
        code: ResponseSpec(
            data_container=ProblemDocument,
            media_type=PROBLEM_JSON,
            description=status_title(code),
            generate_examples=False,
        )
        for code in status_codes
    }


def status_title(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


def http_exception_to_problem(exc: HTTPException) -> ProblemDetailsException:
    """Litestar's own exceptions (404, 405, validation, auth) become problem details."""
    extra: dict[str, Any] | None = None
    if isinstance(exc, ValidationException) and exc.extra:
        extra = {"errors": exc.extra}
    elif isinstance(exc.extra, dict):
        extra = exc.extra
    return ProblemDetailsException(
        status_code=exc.status_code,
        title=status_title(exc.status_code),
        detail=exc.detail,
        extra=extra,
        headers=exc.headers,
    )


def _unhandled(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    _log.exception("unhandled error", path=request.url.path, exc_info=exc)
    return Response(
        {"status": 500, "title": "Internal Server Error", "detail": "An unexpected error occurred."},
        status_code=500,
        media_type=PROBLEM_JSON,
    )


def database_unavailable(exc: BaseException) -> bool:
    """The database could not be reached or went away mid-request (a restart, a failover), as opposed to a fault of
    this request: SQLAlchemy saw the connection invalidated, PostgreSQL said it is shutting down or starting, or the
    connection was refused, reset or lost."""
    if isinstance(exc, DBAPIError):
        return (
            exc.connection_invalidated
            or _away(_sqlstate(exc))
            or isinstance(exc.orig.__cause__ if exc.orig is not None else None, _CONNECTION_LOST)
        )
    if isinstance(exc, asyncpg.PostgresError):  # SQL sent on the driver itself (the hot paths)
        return _away(_sqlstate(exc))
    return isinstance(exc, _CONNECTION_LOST)


def _sqlstate(exc: BaseException) -> str:
    """The SQLSTATE of a database error, through SQLAlchemy's wrapper or straight from asyncpg."""
    source = exc.orig if isinstance(exc, DBAPIError) else exc
    return str(getattr(source, "sqlstate", None) or "")


def _away(sqlstate: str) -> bool:
    return sqlstate in _DATABASE_AWAY or sqlstate.startswith("08")


def _database_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    _log.warning("database unavailable", path=request.url.path, error=str(exc).split("\n", 1)[0])
    return Response(
        {"status": 503, "title": "Service Unavailable", "detail": DATABASE_UNAVAILABLE_DETAIL},
        status_code=503,
        media_type=PROBLEM_JSON,
        headers={"Retry-After": "1"},
    )


def _database_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if database_unavailable(exc):
        return _database_unavailable(request, exc)
    if _sqlstate(exc) not in _UNSTORABLE_TEXT:
        return _unhandled(request, exc)
    return Response(
        {
            "status": 400,
            "title": "Bad Request",
            "detail": "The request holds text that cannot be stored, such as a NUL character.",
        },
        status_code=400,
        media_type=PROBLEM_JSON,
    )


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            exception_to_problem_detail_map={
                HTTPException: http_exception_to_problem,
                InvalidFieldError: _invalid_field_to_problem,
            }
        )
    )


def fallback_exception_handlers() -> ExceptionHandlersMap:
    """Text the database cannot store is a 400 problem; a database that is away (restarting, connection lost) a 503
    problem with ``Retry-After``; anything else not an HTTP error is a 500 problem, logged with its traceback, never a
    stack trace to the client."""
    return {
        DBAPIError: _database_error,
        asyncpg.PostgresError: _database_error,
        ConnectionError: _database_unavailable,
        asyncpg.InterfaceError: _database_unavailable,
        Exception: _unhandled,
    }
