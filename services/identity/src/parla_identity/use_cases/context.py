"""What the identity use cases share."""

from __future__ import annotations

from dataclasses import dataclass

from parla_identity.clients.mail import Mailer
from parla_identity.crypto import SecretBox
from parla_identity.keys import SigningKeyStore
from parla_identity.settings import IdentitySettings


@dataclass
class Identity:
    """What the identity handlers share: settings, the secret box, signing keys and the mailer."""

    settings: IdentitySettings
    box: SecretBox
    keys: SigningKeyStore
    mailer: Mailer

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> Identity:
        box = SecretBox.from_settings(settings)
        return cls(settings=settings, box=box, keys=SigningKeyStore(settings, box), mailer=Mailer(settings))
