from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import jwt
import pytest
from litestar.exceptions import NotAuthorizedException

from parla_shared.auth import HttpJwksKeySource, Principal, TokenVerifier
from parla_testing import TEST_AUDIENCE, TEST_ISSUER, JwksServer, SigningKey


@pytest.fixture
def verifier(jwks_server: JwksServer) -> TokenVerifier:
    return TokenVerifier(HttpJwksKeySource(jwks_server.url), issuer=TEST_ISSUER, audience=TEST_AUDIENCE)


async def _user_principal(verifier: TokenVerifier, token: str) -> Principal:
    """An access token verifies as a user, never as a service."""
    principal = await verifier.verify(token)
    assert isinstance(principal, Principal)
    return principal


async def test_a_valid_token_gives_the_principal(verifier: TokenVerifier, signing_key: SigningKey) -> None:
    user_id = uuid.uuid4()
    principal = await _user_principal(verifier, signing_key.token(user_id, ("admin",)))
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
        # RFC 8725 §3.11: a JWT from the same key that does not declare itself an access token (an ID token, a
        # service token) is refused.
        pytest.param(lambda key, uid: key.token(uid, token_type=None), id="no-typ"),
        pytest.param(lambda key, uid: key.token(uid, token_type="JWT"), id="typ-jwt"),
        pytest.param(lambda key, uid: key.token(uid, token_type="id_token+jwt"), id="typ-other"),
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
        assert (await _user_principal(verifier, new.token(uuid.uuid4()))).roles == ()
        assert (await _user_principal(verifier, old.token(uuid.uuid4()))).roles == ()


async def test_the_access_token_type_may_be_written_as_a_media_type(
    verifier: TokenVerifier, signing_key: SigningKey
) -> None:
    token = signing_key.token(uuid.uuid4(), token_type="application/AT+JWT")
    assert (await _user_principal(verifier, token)).roles == ()


async def test_a_key_withdrawn_from_the_jwks_stops_verifying_on_schedule() -> None:
    """Not only an unknown key id refreshes the keys: a key identity no longer publishes stops working here within
    the refresh interval, although tokens signed by it keep naming a key id this verifier knows."""
    withdrawn, kept = SigningKey(), SigningKey()
    with JwksServer([withdrawn, kept]) as server:
        source = HttpJwksKeySource(server.url, refresh_seconds=0.2)
        verifier = TokenVerifier(source, issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
        await verifier.verify(withdrawn.token(uuid.uuid4()))
        refresher = asyncio.create_task(source.keep_fresh())
        try:
            server.keys.remove(withdrawn)
            deadline = asyncio.get_running_loop().time() + 10
            while True:
                try:
                    await verifier.verify(withdrawn.token(uuid.uuid4()))
                except NotAuthorizedException:
                    break
                assert asyncio.get_running_loop().time() < deadline, "the withdrawn key still verifies"
                await asyncio.sleep(0.05)
            await verifier.verify(kept.token(uuid.uuid4()))
        finally:
            refresher.cancel()


async def test_a_failed_scheduled_refresh_keeps_the_last_good_keys() -> None:
    key = SigningKey()
    with JwksServer([key]) as server:
        source = HttpJwksKeySource(server.url, refresh_seconds=0.1, timeout=0.5)
        verifier = TokenVerifier(source, issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
        await verifier.verify(key.token(uuid.uuid4()))
    refresher = asyncio.create_task(source.keep_fresh())  # the JWKS server is gone now
    try:
        await asyncio.sleep(0.5)
        await verifier.verify(key.token(uuid.uuid4()))
    finally:
        refresher.cancel()


async def test_a_token_is_verified_in_full_once_then_remembered(
    verifier: TokenVerifier, signing_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[str] = []
    decode = jwt.decode

    def counting_decode(token: str, *args: object, **kwargs: object) -> object:
        decoded.append(token)
        return decode(token, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting_decode)
    token, other = signing_key.token(uuid.uuid4()), signing_key.token(uuid.uuid4())
    first = await verifier.verify(token)
    assert await verifier.verify(token) == first
    assert await verifier.verify(other) != first
    assert decoded == [token, other]


async def test_a_remembered_token_is_refused_once_it_expires(signing_key: SigningKey, jwks_server: JwksServer) -> None:
    verifier = TokenVerifier(
        HttpJwksKeySource(jwks_server.url), issuer=TEST_ISSUER, audience=TEST_AUDIENCE, leeway_seconds=0
    )
    token = signing_key.token(uuid.uuid4(), lifetime=timedelta(seconds=1))
    await verifier.verify(token)
    await asyncio.sleep(2.1)  # exp is in whole seconds
    with pytest.raises(NotAuthorizedException, match="expired"):
        await verifier.verify(token)


async def test_a_remembered_token_is_refused_once_its_key_is_withdrawn() -> None:
    withdrawn, kept = SigningKey(), SigningKey()
    with JwksServer([withdrawn, kept]) as server:
        source = HttpJwksKeySource(server.url, refresh_seconds=0.1)
        verifier = TokenVerifier(source, issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
        token = withdrawn.token(uuid.uuid4())
        await verifier.verify(token)
        server.keys.remove(withdrawn)
        refresher = asyncio.create_task(source.keep_fresh())
        try:
            await asyncio.sleep(0.5)  # several refreshes
            with pytest.raises(NotAuthorizedException, match="unknown key"):
                await verifier.verify(token)
            await verifier.verify(kept.token(uuid.uuid4()))
        finally:
            refresher.cancel()
