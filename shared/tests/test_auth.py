from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import pytest
from litestar.exceptions import NotAuthorizedException

from parla_shared.auth import HttpJwksKeySource, TokenVerifier
from parla_shared.testing import TEST_AUDIENCE, TEST_ISSUER, JwksServer, SigningKey


@pytest.fixture
def verifier(jwks_server: JwksServer) -> TokenVerifier:
    return TokenVerifier(HttpJwksKeySource(jwks_server.url), issuer=TEST_ISSUER, audience=TEST_AUDIENCE)


async def test_a_valid_token_gives_the_principal(verifier: TokenVerifier, signing_key: SigningKey) -> None:
    user_id = uuid.uuid4()
    principal = await verifier.verify(signing_key.token(user_id, ("admin",)))
    assert principal.user_id == user_id
    assert principal.is_admin


def _unsigned(user_id: uuid.UUID) -> str:
    return jwt.encode(
        {
            "sub": str(user_id),
            "iss": TEST_ISSUER,
            "aud": TEST_AUDIENCE,
            "exp": 4102444800,
            "iat": 0,
            "jti": "x",
        },
        key=None,  # type: ignore[arg-type]  # an unsigned token is what is being forged
        algorithm="none",
        headers={"kid": "whatever"},
    )


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda key, uid: _unsigned(uid), id="alg-none"),
        pytest.param(lambda key, uid: SigningKey(key.key_id).token(uid), id="signed-by-another-key"),
        pytest.param(lambda key, uid: SigningKey().token(uid), id="unknown-kid"),
        pytest.param(lambda key, uid: key.token(uid, lifetime=timedelta(minutes=-5)), id="expired"),
        pytest.param(lambda key, uid: key.token(uid, aud="another-audience"), id="other-audience"),
        pytest.param(lambda key, uid: key.token(uid, iss="someone-else"), id="other-issuer"),
        pytest.param(
            lambda key, uid: jwt.encode({"sub": str(uid)}, "secret", algorithm="HS256", headers={"kid": key.key_id}),
            id="hs256-with-known-kid",
        ),
        pytest.param(lambda key, uid: key.token(uid)[:-4] + "AAAA", id="tampered-signature"),
    ],
)
async def test_forged_or_stale_tokens_are_rejected(
    verifier: TokenVerifier, signing_key: SigningKey, forge: object
) -> None:
    token = forge(signing_key, uuid.uuid4())  # type: ignore[operator]
    with pytest.raises(NotAuthorizedException):
        await verifier.verify(token)


async def test_a_rotated_key_is_fetched_when_first_seen() -> None:
    old, new = SigningKey(), SigningKey()
    with JwksServer([old]) as server:
        verifier = TokenVerifier(
            HttpJwksKeySource(server.url, min_refresh_seconds=0), issuer=TEST_ISSUER, audience=TEST_AUDIENCE
        )
        await verifier.verify(old.token(uuid.uuid4()))
        server.keys.append(new)  # identity publishes the new key beside the old one
        assert (await verifier.verify(new.token(uuid.uuid4()))).roles == ()
        assert (await verifier.verify(old.token(uuid.uuid4()))).roles == ()
