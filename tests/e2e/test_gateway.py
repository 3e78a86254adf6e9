"""The gateway routes only the public API: internal endpoints, metrics and every other path are 404 whatever
their spelling, answers carry security headers, and request bodies are bounded."""

from __future__ import annotations

import http.client
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import answer_key

SERVICES = ("identity", "curriculum", "progress", "analytics")
PASSWORD = "Gateway-pass1"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_ready_through_the_gateway(gateway: httpx.Client, service: str) -> None:
    response = gateway.get(f"/api/{service}/ready")
    assert response.status_code == 200
    assert response.json()["service"] == service


@pytest.mark.parametrize("service", SERVICES)
def test_every_openapi_document_is_served_and_lists_no_internal_route(gateway: httpx.Client, service: str) -> None:
    document = gateway.get(f"/api/{service}/schema/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == f"Parla {service} API"
    assert document["paths"]
    assert not [path for path in document["paths"] if "internal" in path.lower() or path == "/metrics"]


def _raw_request(
    gateway: httpx.Client, method: str, target: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, str, bytes]:
    """Sends ``target`` byte for byte (httpx would normalise dot segments and escapes before sending)."""
    base = urlsplit(str(gateway.base_url))
    connection = http.client.HTTPConnection(base.hostname or "127.0.0.1", base.port, timeout=10)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def learner_token(gateway: httpx.Client) -> str:
    email = f"gateway-{uuid.uuid4().hex[:12]}@example.com"
    registered = gateway.post("/api/identity/auth/register", json={"email": email, "password": PASSWORD, "name": "Gia"})
    assert registered.status_code == 201, registered.text
    login = gateway.post("/api/identity/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return str(login.json()["access_token"])


@pytest.fixture(scope="module")
def translation_exercise(gateway: httpx.Client) -> tuple[str, str]:
    """A typed-answer exercise of the shipped course and its correct answer (the secret the gateway guards)."""
    course = gateway.get("/api/curriculum/courses", params={"from": "en", "to": "es"}).json()[0]
    tree = gateway.get(f"/api/curriculum/courses/{course['id']}").json()
    for lesson in (lesson for section in tree["sections"] for unit in section["units"] for lesson in unit["lessons"]):
        for exercise in gateway.get(f"/api/curriculum/lessons/{lesson['id']}").json()["exercises"]:
            if not exercise.get("options"):
                right, _ = answer_key([exercise["id"]])
                return exercise["id"], right[exercise["id"]]
    pytest.fail("the shipped course has no typed-answer exercise")


FORBIDDEN_SPELLINGS = (
    "/api/curriculum/internal/exercises/{id}/check",
    "/API/curriculum/internal/exercises/{id}/check",
    "/api/Curriculum/Internal/Exercises/{id}/check",
    "/api/curriculum/INTERNAL/exercises/{id}/check",
    "/api/curriculum//internal/exercises/{id}/check",
    "//api/curriculum/internal/exercises/{id}/check",
    "/api/curriculum/./internal/exercises/{id}/check",
    "/api/curriculum/courses/../internal/exercises/{id}/check",
    "/api/progress/../curriculum/internal/exercises/{id}/check",
    "/api/curriculum/%69nternal/exercises/{id}/check",
    "/api/curriculum/%49NTERNAL/exercises/{id}/check",
    "/api/curriculum/internal%2Fexercises%2F{id}%2Fcheck",
    "/api/curriculum/%2e/internal/exercises/{id}/check",
    "/api/curriculum/%2E%2E/curriculum/internal/exercises/{id}/check",
    "/api/curriculum/internal/exercises/{id}/check/",
    "/api/curriculum/internal/exercises/{id}/check/.",
    "/api/curriculum\\internal\\exercises\\{id}\\check",
    "/api/curriculum/lessons/{id}/../../internal/exercises/{id}/check",
    "/internal/exercises/{id}/check",
    "/Internal/exercises/{id}/check",
)


@pytest.mark.parametrize("spelling", FORBIDDEN_SPELLINGS)
def test_no_spelling_of_an_internal_path_reaches_the_answer_key(
    gateway: httpx.Client, learner_token: str, translation_exercise: tuple[str, str], spelling: str
) -> None:
    exercise_id, correct_answer = translation_exercise
    status, content_type, body = _raw_request(
        gateway,
        "POST",
        spelling.format(id=exercise_id),
        {"Authorization": f"Bearer {learner_token}", "Content-Type": "application/json"},
        b'{"answer": "x"}',
    )
    assert status == 404, body
    assert content_type.startswith("application/problem+json")
    assert correct_answer.encode() not in body
    assert b"correct" not in body


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("spelling", ["/api/{s}/metrics", "/API/{s}/METRICS", "/api/{s}/metrics/", "/api/{s}//metrics"])
def test_metrics_are_not_reachable_from_outside(gateway: httpx.Client, service: str, spelling: str) -> None:
    status, content_type, body = _raw_request(gateway, "GET", spelling.format(s=service), {})
    assert status == 404
    assert content_type.startswith("application/problem+json")
    assert b"parla_" not in body


@pytest.mark.parametrize(
    "path",
    ["/nowhere", "/api/nowhere/health", "/api/identity/nowhere", "/api/progress/internal", "/media/../README.md"],
)
def test_unknown_paths_are_problem_404s(gateway: httpx.Client, path: str) -> None:
    for method in ("GET", "POST"):
        status, content_type, _ = _raw_request(gateway, method, path, {})
        assert status == 404
        assert content_type.startswith("application/problem+json")


def test_a_public_path_reaches_its_service_only_spelled_as_the_service_names_it(gateway: httpx.Client) -> None:
    assert gateway.get("/api/curriculum/languages").status_code == 200
    # The allowlist matches any case; the service's router then decides, and it is case-sensitive.
    shouted = gateway.get("/API/CURRICULUM/LANGUAGES")
    assert shouted.status_code == 404
    assert shouted.headers["content-type"].startswith("application/problem+json")


def test_answers_carry_security_headers(gateway: httpx.Client) -> None:
    for response in (gateway.get("/api/curriculum/languages"), gateway.get("/nowhere")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "server" not in response.headers


def test_answers_with_tokens_or_codes_are_never_stored(gateway: httpx.Client) -> None:
    email = f"gateway-{uuid.uuid4().hex[:12]}@example.com"
    registered = gateway.post("/api/identity/auth/register", json={"email": email, "password": PASSWORD, "name": "G"})
    login = gateway.post("/api/identity/auth/login", json={"email": email, "password": PASSWORD})
    refreshed = gateway.post("/api/identity/auth/refresh", json={"refresh_token": login.json()["refresh_token"]})
    failed = gateway.post("/api/identity/auth/login", json={"email": email, "password": "wrong-password1"})
    for response in (registered, login, refreshed, failed):
        assert response.headers["cache-control"] == "no-store", response.request.url
    # Public content stays cacheable (ETags, revalidation).
    assert "no-store" not in gateway.get("/api/curriculum/languages").headers.get("cache-control", "")


def test_bodies_over_the_limit_are_413_problems(gateway: httpx.Client) -> None:
    big = b'{"email": "' + b"a" * 70_000 + b'@example.com", "password": "x"}'
    response = gateway.post("/api/identity/auth/login", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 413
    # Without Content-Length (chunked) the limit holds as well.
    chunked = gateway.post(
        "/api/identity/auth/login",
        content=iter([big[:40_000], big[40_000:]]),
        headers={"Content-Type": "application/json"},
    )
    assert chunked.status_code == 413
    # A course document may be larger: it reaches curriculum, which asks for an admin.
    document = b"key: big\n" + b"# padding\n" * 50_000
    imported = gateway.post(
        "/api/curriculum/admin/courses/import", content=document, headers={"Content-Type": "application/yaml"}
    )
    assert imported.status_code == 401


def test_gateway_adds_a_request_id_and_keeps_a_given_one(gateway: httpx.Client) -> None:
    minted = gateway.get("/api/identity/health").headers["x-request-id"]
    assert len(minted) >= 16
    assert gateway.get("/api/identity/health", headers={"X-Request-ID": "abc-1"}).headers["x-request-id"] == "abc-1"


@pytest.mark.parametrize("service", SERVICES)
def test_every_documented_route_is_routed(gateway: httpx.Client, service: str) -> None:
    """The allowlist keeps up with the services: each path of each OpenAPI document reaches its service (its
    answer may be 401, 404 for a missing row, 405, ...), never the gateway's own 404."""
    document = gateway.get(f"/api/{service}/schema/openapi.json").json()
    for template, operations in document["paths"].items():
        path = template
        for name in [part[1:-1] for part in template.split("/") if part.startswith("{")]:
            parameter = next(
                p for operation in operations.values() for p in operation.get("parameters", []) if p["name"] == name
            )
            example = str(uuid.uuid4()) if parameter["schema"].get("format") == "uuid" else "google"
            path = path.replace(f"{{{name}}}", example)
        for method in operations:
            response = gateway.request(method.upper(), f"/api/{service}{path}")
            is_gateway_404 = response.status_code == 404 and response.json().get("detail") == "No such resource."
            assert not is_gateway_404, f"{method.upper()} /api/{service}{template} is not routed by the gateway"


def test_the_web_app_is_served_at_the_root_with_a_policy_of_its_own(gateway: httpx.Client) -> None:
    page = gateway.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert b'<script type="module" src="/js/app.js">' in page.content
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe" not in policy  # no inline script or style, no eval
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-cache"
    for path, content_type in (
        ("/js/app.js", "text/javascript"),
        ("/styles.css", "text/css"),
        ("/index.html", "text/html"),
    ):
        response = gateway.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(content_type), path
        assert response.headers["content-security-policy"] == policy
    # The API keeps its own, stricter policy.
    assert gateway.get("/api/curriculum/languages").headers["content-security-policy"].startswith("default-src 'none';")


@pytest.mark.parametrize(
    "path", ["/js/nowhere.js", "/web/index.html", "/Caddyfile", "/js/../../pyproject.toml", "/.git/config", "/js/"]
)
def test_only_the_apps_own_files_are_served(gateway: httpx.Client, path: str) -> None:
    status, content_type, body = _raw_request(gateway, "GET", path, {})
    assert status == 404, path
    assert content_type.startswith("application/problem+json")
    assert b"[tool" not in body


def test_mail_links_open_the_app_with_the_code_out_of_the_servers_sight(gateway: httpx.Client) -> None:
    for path, page in (("/verify-email", "verify-email"), ("/reset-password", "reset-password")):
        response = gateway.get(f"{path}?token=abc123", follow_redirects=False)
        assert response.status_code == 302
        assert response.headers["location"] == f"/#/{page}?token=abc123"


def test_a_browser_back_from_the_provider_is_handed_to_the_app(gateway: httpx.Client) -> None:
    """The provider sends the browser to the callback: a page navigation (asking for HTML) goes to the app, which
    fetches the callback itself; an API client asking for JSON still reaches identity (Google is not configured
    on this platform: 503)."""
    callback = "/api/identity/auth/oauth/google/callback?code=c0de&state=st4te"
    navigation = gateway.get(callback, headers={"Accept": "text/html,application/xhtml+xml"}, follow_redirects=False)
    assert navigation.status_code == 302
    assert navigation.headers["location"] == "/#/oauth/google?code=c0de&state=st4te"
    assert navigation.headers["cache-control"] == "no-store"
    fetched = gateway.get(callback, headers={"Accept": "application/json"})
    assert fetched.status_code == 503
    assert fetched.headers["content-type"].startswith("application/problem+json")


def test_a_refused_provider_login_sends_the_browser_back_to_the_app(gateway: httpx.Client) -> None:
    """Google is not configured on this platform: a page navigation to authorize comes back to the app's log-in
    page with the status; an API client still gets identity's problem."""
    authorize = "/api/identity/auth/oauth/google/authorize"
    navigation = gateway.get(authorize, headers={"Accept": "text/html"}, follow_redirects=False)
    assert navigation.status_code == 302
    assert navigation.headers["location"] == "/#/login?provider_error=503"
    fetched = gateway.get(authorize, headers={"Accept": "application/json"}, follow_redirects=False)
    assert fetched.status_code == 503
    assert fetched.headers["content-type"].startswith("application/problem+json")
