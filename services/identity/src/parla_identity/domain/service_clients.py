"""Service clients (the other services) proving who they are."""

from __future__ import annotations

import hashlib
import hmac

from parla_identity.settings import IdentitySettings


def service_client_authenticated(settings: IdentitySettings, client_id: str, client_secret: str) -> bool:
    """Whether the secret is the client's; compared in constant time, unknown clients included."""
    expected = settings.service_clients.get(client_id)
    # An unknown client is compared with a secret of its own so timing tells nothing about which clients exist.
    matches = hmac.compare_digest(
        hashlib.sha256(client_secret.encode()).digest(),
        hashlib.sha256((expected if expected is not None else f"unknown:{client_secret}!").encode()).digest(),
    )
    return expected is not None and matches
