"""``POST /internal/service-tokens``: the client-credentials grant services call each other with."""

from __future__ import annotations

import httpx
import jwt
import pytest
from conftest import user_with_token

from parla_identity.settings import IdentitySettings
from parla_identity.use_cases.context import Identity
from parla_shared.auth import ServicePrincipal, TokenVerifier, service_audience
from parla_shared.secret_policy import DEV_SERVICE_CLIENT_SECRET, DEV_SERVICE_CLIENT_SECRETS
from parla_testing import bearer

GRANT = {
    "grant_type": "client_credentials",
    "client_id": "progress",
    "client_secret": DEV_SERVICE_CLIENT_SECRET,
    "audience": "curriculum",
}


async def test_a_service_gets_a_typed_token_for_the_service_it_calls(
    client: httpx.AsyncClient, identity: Identity, settings: IdentitySettings
) -> None:
    response = await client.post("/internal/service-tokens", json=GRANT)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", settings.service_token_ttl_seconds)
    token = body["access_token"]
    assert jwt.get_unverified_header(token)["typ"] == "service+jwt"
    # Curriculum's verifier accepts it as the progress service; the platform audience (users' routes) does not.
    curriculum = TokenVerifier(
        identity.keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        service_audience=service_audience(settings.jwt_audience, "curriculum"),
    )
    assert await curriculum.verify(token) == ServicePrincipal(
        service="progress", token_id=jwt.decode(token, options={"verify_signature": False})["jti"]
    )
    analytics = TokenVerifier(
        identity.keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        service_audience=service_audience(settings.jwt_audience, "analytics"),
    )
    with pytest.raises(Exception, match="invalid token"):
        await analytics.verify(token)


async def test_a_service_token_is_not_a_users_access_token(client: httpx.AsyncClient) -> None:
    token = (await client.post("/internal/service-tokens", json={**GRANT, "audience": "identity"})).json()
    me = await client.get("/users/me", headers=bearer(token["access_token"]))
    assert me.status_code == 401
    assert me.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("change", "status", "title"),
    [
        ({"client_secret": "wrong"}, 401, "Invalid client"),
        ({"client_id": "stranger"}, 401, "Invalid client"),
        ({"client_id": "identity"}, 401, "Invalid client"),
        ({"grant_type": "password"}, 400, "Unsupported grant type"),
        ({"audience": "billing"}, 400, "Invalid audience"),
        ({"audience": "progress"}, 400, "Invalid audience"),
    ],
)
async def test_bad_grants_are_problems(
    client: httpx.AsyncClient, change: dict[str, str], status: int, title: str
) -> None:
    response = await client.post("/internal/service-tokens", json={**GRANT, **change})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["title"] == title


async def test_a_learner_token_is_no_service_credential(client: httpx.AsyncClient) -> None:
    _, headers = await user_with_token(client)
    response = await client.post("/internal/service-tokens", json={**GRANT, "client_secret": ""}, headers=headers)
    assert response.status_code == 401


def test_client_secrets_setting_is_checked(settings: IdentitySettings) -> None:
    from parla_shared.settings import SettingsError

    values = {field: getattr(settings, field) for field in settings.__struct_fields__}
    with pytest.raises(SettingsError, match="PARLA_SERVICE_CLIENT_SECRETS must look like"):
        IdentitySettings.from_env({}, **{**values, "service_client_secrets": "progress"})
    # Outside development the development secret (and any weak one) is refused, naming the client.
    with pytest.raises(SettingsError, match=r"PARLA_SERVICE_CLIENT_SECRETS \(progress\) is a development default"):
        IdentitySettings.from_env(
            {}, **{**values, "environment": "production", "service_client_secrets": DEV_SERVICE_CLIENT_SECRETS}
        )


async def _service_headers(client: httpx.AsyncClient, service: str) -> dict[str, str]:
    grant = {**GRANT, "client_id": service, "audience": "identity"}
    response = await client.post("/internal/service-tokens", json=grant)
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


async def test_services_read_an_accounts_roles_and_the_deleted_accounts(client: httpx.AsyncClient) -> None:
    user, learner = await user_with_token(client)
    analytics = await _service_headers(client, "analytics")
    roles = await client.get(f"/internal/users/{user['id']}/roles", headers=analytics)
    assert roles.status_code == 200, roles.text
    assert roles.json() == {"user_id": user["id"], "roles": []}
    # A learner's token is no service credential; no token is none either.
    for headers in (learner, {}):
        refused = await client.get(f"/internal/users/{user['id']}/roles", headers=headers)
        assert refused.status_code in (401, 403)
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/internal/deleted-accounts", headers=learner)).status_code == 403
    assert (await client.delete("/users/me", headers=learner)).status_code == 204
    missing = await client.get(f"/internal/users/{user['id']}/roles", headers=analytics)
    assert missing.status_code == 404
    deleted = await client.get("/internal/deleted-accounts", headers=analytics)
    assert user["id"] in deleted.json()["user_ids"]
