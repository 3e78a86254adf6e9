"""Application-level envelope encryption of secrets at rest (NFR-5/NFR-7): AES-256-GCM with a key id.

A sealed value is ``v1.<key id>.<base64url(nonce | ciphertext+tag)>``. The key id picks the key to open it
with, so a new key can be introduced (``PARLA_IDENTITY_SECRET_KEY``/``…_KEY_ID``) while values sealed under
the previous ones (``PARLA_IDENTITY_PREVIOUS_SECRET_KEYS=kid=secret,…``) stay readable; ``reseal`` moves a
value to the current key. The associated data binds a value to where it is stored (table and column), so a
ciphertext copied to another column does not open.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from parla_identity.settings import IdentitySettings

_VERSION = "v1"
_NONCE_BYTES = 12


class DecryptionError(ValueError):
    """A sealed value that cannot be opened: unknown key id, wrong key, or tampered ciphertext."""


def derive_key(secret: str) -> bytes:
    """A 256-bit AES key from the configured secret (any length), by HKDF-SHA256."""
    return HKDF(algorithm=SHA256(), length=32, salt=b"parla-identity", info=b"aes-256-gcm").derive(secret.encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SecretBox:
    def __init__(self, current_key_id: str, keys: dict[str, bytes]) -> None:
        if current_key_id not in keys:
            raise ValueError("the current key id has no key")
        if any("." in key_id for key_id in keys):
            raise ValueError("key ids must not contain '.'")
        self.current_key_id = current_key_id
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> SecretBox:
        keys = {settings.identity_secret_key_id: derive_key(settings.identity_secret_key)}
        for item in filter(None, (part.strip() for part in settings.identity_previous_secret_keys.split(","))):
            key_id, separator, secret = item.partition("=")
            if not separator or not key_id or not secret:
                raise ValueError("PARLA_IDENTITY_PREVIOUS_SECRET_KEYS must look like kid=secret,kid=secret")
            keys.setdefault(key_id.strip(), derive_key(secret.strip()))
        return cls(settings.identity_secret_key_id, keys)

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self.current_key_id].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_VERSION}.{self.current_key_id}.{_b64(nonce + sealed)}"

    def open(self, sealed: str, *, context: str) -> str:
        version, _, rest = sealed.partition(".")
        key_id, _, body = rest.partition(".")
        cipher = self._ciphers.get(key_id)
        if version != _VERSION or cipher is None or not body:
            raise DecryptionError(f"cannot open a value sealed with key id {key_id!r}")
        raw = _unb64(body)
        try:
            return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode()).decode()
        except InvalidTag as exc:
            raise DecryptionError("sealed value failed authentication") from exc

    def key_id_of(self, sealed: str) -> str:
        return sealed.split(".", 2)[1]

    def reseal(self, sealed: str, *, context: str) -> str:
        """The same secret sealed under the current key (for re-encryption after a key rotation)."""
        if self.key_id_of(sealed) == self.current_key_id:
            return sealed
        return self.seal(self.open(sealed, context=context), context=context)


def opaque_token() -> str:
    """A random token for a user to hold (refresh, email verification, password reset, OAuth state)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of an opaque token: its SHA-256 (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()
