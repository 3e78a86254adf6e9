"""``/.well-known/jwks.json``: the public keys every service verifies access tokens with."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from parla_identity.use_cases.context import Identity


class JwksController(Controller):
    path = "/.well-known"
    tags = ["keys"]

    @get("/jwks.json", summary="Public signing keys (JWKS)")
    async def get_jwks(self, identity: NamedDependency[Identity]) -> Response[dict[str, Any]]:
        return Response(
            await identity.keys.jwks(),
            headers={"Cache-Control": "public, max-age=60"},
        )
