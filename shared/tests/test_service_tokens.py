"""A service's token cache: one grant per audience, shared by concurrent callers, renewed shortly before expiry."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import jwt
import pytest

from parla_shared.problems import Problem
from parla_shared.secret_policy import DEV_SERVICE_CLIENT_SECRET
from parla_shared.service_tokens import ServiceTokens
from parla_testing import JwksServer, SigningKey


async def test_a_token_is_asked_for_once_and_kept_until_shortly_before_it_expires() -> None:
    with JwksServer([SigningKey()], service_token_lifetime=timedelta(seconds=2)) as identity:
        tokens = ServiceTokens(identity.base_url, "progress", DEV_SERVICE_CLIENT_SECRET, renew_before_seconds=0.5)
        try:
            first = await asyncio.gather(*(tokens.token("curriculum") for _ in range(10)))
            assert len(set(first)) == 1
            assert identity.service_token_requests == 1
            claims = jwt.decode(first[0], options={"verify_signature": False})
            assert claims["aud"] == "parla-curriculum"
            await tokens.token("analytics")  # another audience, another token
            assert identity.service_token_requests == 2
            await asyncio.sleep(1.6)  # past expiry minus the margin: renewed before it runs out
            renewed = await tokens.token("curriculum")
            assert renewed != first[0]
            assert identity.service_token_requests == 3
            tokens.forget("curriculum")  # the called service refused it
            await tokens.token("curriculum")
            assert identity.service_token_requests == 4
        finally:
            await tokens.close()


async def test_a_refused_client_secret_is_a_503() -> None:
    with JwksServer([SigningKey()]) as identity:
        tokens = ServiceTokens(identity.base_url, "progress", "wrong-secret")
        try:
            with pytest.raises(Problem) as refused:
                await tokens.token("curriculum")
            assert refused.value.status_code == 503
        finally:
            await tokens.close()
