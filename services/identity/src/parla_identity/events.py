"""The events identity publishes: their types and payloads are the contracts in ``parla_shared.contracts.identity``
(defined once there, where every consumer imports them; docs/events.md)."""

from parla_shared.contracts.identity import (
    PERSONAL_DATA_VERSION,
    PERSONAL_FIELDS,
    USER_DELETED,
    USER_EMAIL_VERIFIED,
    USER_LOGGED_IN,
    USER_LOGGED_OUT,
    USER_PASSWORD_RESET,
    USER_PASSWORD_RESET_REQUESTED,
    USER_REGISTERED,
    USER_ROLE_GRANTED,
    USER_ROLE_REVOKED,
    USER_UPDATED,
    RoleChanged,
    UserDeleted,
    UserLoggedIn,
    UserOnly,
    UserRegistered,
    UserUpdated,
)

__all__ = [
    "PERSONAL_DATA_VERSION",
    "PERSONAL_FIELDS",
    "USER_DELETED",
    "USER_EMAIL_VERIFIED",
    "USER_LOGGED_IN",
    "USER_LOGGED_OUT",
    "USER_PASSWORD_RESET",
    "USER_PASSWORD_RESET_REQUESTED",
    "USER_REGISTERED",
    "USER_ROLE_GRANTED",
    "USER_ROLE_REVOKED",
    "USER_UPDATED",
    "RoleChanged",
    "UserDeleted",
    "UserLoggedIn",
    "UserOnly",
    "UserRegistered",
    "UserUpdated",
]
