"""The identity service's settings (``PARLA_*``)."""

from __future__ import annotations

from parla_shared.ratelimit import RateLimit
from parla_shared.secret_policy import (
    DEV_SERVICE_CLIENT_SECRETS,
    is_development,
    placeholder_reason,
    url_password,
    weak_secret_reason,
)
from parla_shared.settings import ServiceSettings, env_name

DEV_SECRET_KEY = "parla-dev-identity-secret-key-change-me"  # noqa: S105 - documented development default
DEV_ADMIN_PASSWORD = "ParlaAdmin1!"  # noqa: S105 - documented development default, refused in production
GOOGLE_ISSUER = "https://accounts.google.com"
TIKTOK_AUTHORIZE_URL = "https://www.tiktok.com/v2/auth/authorize/"
TIKTOK_TOKEN_URL = "https://open.tiktokapis.com/v2/oauth/token/"  # noqa: S105
TIKTOK_USERINFO_URL = "https://open.tiktokapis.com/v2/user/info/"
# The services that may be named as a service token's audience.
SERVICES = ("identity", "curriculum", "progress", "analytics")

_RATE_LIMITS = (
    "register_per_ip",
    "register_per_email",
    "password_reset_per_ip",
    "password_reset_per_email",
    "oauth_authorize_per_ip",
)


class IdentitySettings(ServiceSettings, kw_only=True, frozen=True):
    service_name: str = "identity"
    port: int = 8001
    db_schema: str = "identity"

    # Passwords (NFR-6): never below 12 outside tests.
    bcrypt_rounds: int = 12

    # Access and refresh tokens.
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_days: int = 30
    signing_key_rotation_days: int = 30
    signing_keys_reload_seconds: float = 60.0

    # Service-to-service tokens (client credentials): "service=secret,service=secret", and their lifetime.
    # Unset: every service with the development secret in development and tests; in production, none.
    service_client_secrets: str = ""
    service_token_ttl_seconds: int = 300

    # One-time tokens mailed to the user.
    email_verification_ttl_hours: int = 48
    password_reset_ttl_minutes: int = 60

    # Envelope encryption of secrets at rest (signing keys, OAuth provider tokens): AES-256-GCM.
    # ``identity_previous_secret_keys`` = "kid=secret,kid=secret" keeps old keys readable after a rotation.
    identity_secret_key: str = DEV_SECRET_KEY
    identity_secret_key_id: str = "dev"  # noqa: S105 - a key id, not a key
    identity_previous_secret_keys: str = ""

    # Failed-login throttling (state in PostgreSQL, identity.rate_limits).
    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 50
    login_failure_window_seconds: int = 900
    login_lockout_seconds: int = 900

    # Abuse limits, "<hits>/<seconds>", counted in identity.rate_limits by every replica (docs/decisions.md).
    # Per address they are generous: schools and carrier NAT put many learners behind one address, and the
    # 1000-learner load test registers every learner from one.
    rate_limit_register_per_ip: str = "2400/3600"
    rate_limit_register_per_email: str = "5/3600"  # also bounds the verification mails to one address
    rate_limit_password_reset_per_ip: str = "100/3600"  # noqa: S105 - a limit, not a password
    rate_limit_password_reset_per_email: str = "5/3600"  # noqa: S105
    rate_limit_oauth_authorize_per_ip: str = "300/3600"

    # Mail: SMTP when set, otherwise .eml files under $PARLA_DATA_DIR/mail/.
    smtp_url: str | None = None
    mail_from: str = "Parla <no-reply@parla.local>"

    # OAuth providers (docs/api.md); a provider without a client id is "not configured".
    oauth_state_ttl_seconds: int = 600
    oauth_http_timeout_seconds: float = 10.0
    oauth_google_issuer: str = GOOGLE_ISSUER
    oauth_google_client_id: str = ""
    oauth_google_client_secret: str = ""
    oauth_tiktok_authorize_url: str = TIKTOK_AUTHORIZE_URL
    oauth_tiktok_token_url: str = TIKTOK_TOKEN_URL
    oauth_tiktok_userinfo_url: str = TIKTOK_USERINFO_URL
    oauth_tiktok_client_key: str = ""
    oauth_tiktok_client_secret: str = ""

    # The admin the seed creates (python -m parla_identity.seed). Unset: ``DEV_ADMIN_PASSWORD`` in development
    # and tests, no seeded admin in production (``create-admin`` makes one).
    admin_email: str = "admin@parla.local"
    admin_password: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.environment != "test" and self.bcrypt_rounds < 12:
            raise ValueError("bcrypt_rounds must be at least 12 outside tests (NFR-6)")
        if not 4 <= self.bcrypt_rounds <= 31:
            raise ValueError("bcrypt_rounds must be between 4 and 31")
        if (
            self.access_token_ttl_seconds <= 0
            or self.refresh_token_ttl_days <= 0
            or self.service_token_ttl_seconds <= 0
        ):
            raise ValueError("token lifetimes must be positive")
        for name in _RATE_LIMITS:
            self.rate_limit(name)
        self.service_clients  # noqa: B018 - parsed here so a malformed list stops start-up in any environment

    def rate_limit(self, name: str) -> RateLimit:
        """The parsed ``rate_limit_<name>`` setting."""
        return RateLimit.parse(getattr(self, f"rate_limit_{name}"), setting=env_name(f"rate_limit_{name}"))

    @property
    def longest_rate_window_seconds(self) -> int:
        """A rate-limit row older than this counts for nothing any more."""
        windows = [self.rate_limit(name).window_seconds for name in _RATE_LIMITS]
        return max(self.login_failure_window_seconds, *windows)

    @property
    def service_clients(self) -> dict[str, str]:
        """The client secret of each service that may ask for service tokens."""
        listed = self.service_client_secrets
        if not listed and is_development(self.environment):
            listed = DEV_SERVICE_CLIENT_SECRETS
        clients: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in listed.split(","))):
            name, separator, secret = item.partition("=")
            if not separator or name.strip() not in SERVICES or not secret.strip():
                raise ValueError("PARLA_SERVICE_CLIENT_SECRETS must look like progress=secret,analytics=secret")
            clients[name.strip()] = secret.strip()
        return clients

    def weak_secrets(self) -> dict[str, str]:
        problems = super().weak_secrets()
        generated = {env_name("identity_secret_key"): self.identity_secret_key}
        for item in filter(None, (part.strip() for part in self.identity_previous_secret_keys.split(","))):
            key_id, _, secret = item.partition("=")
            generated[f"{env_name('identity_previous_secret_keys')} (key {key_id.strip()})"] = secret.strip()
        for client, secret in self.service_clients.items():
            generated[f"{env_name('service_client_secrets')} ({client})"] = secret
        for name, secret in generated.items():
            if (reason := weak_secret_reason(secret, development_values=(DEV_SECRET_KEY,))) is not None:
                problems[name] = reason
        issued = {
            env_name("admin_password"): self.admin_password or "",
            env_name("oauth_google_client_secret"): self.oauth_google_client_secret,
            env_name("oauth_tiktok_client_secret"): self.oauth_tiktok_client_secret,
            f"{env_name('smtp_url')}'s password": url_password(self.smtp_url or "") or "",
        }
        for name, secret in issued.items():
            if secret and (reason := placeholder_reason(secret, development_values=(DEV_ADMIN_PASSWORD,))):
                problems[name] = reason
        return problems

    @property
    def seed_admin_password(self) -> str | None:
        """The seeded admin's password: the configured one, the development default in development, else none."""
        if self.admin_password:
            return self.admin_password
        return DEV_ADMIN_PASSWORD if self.environment in ("development", "test") else None

    @property
    def redirect_uri_base(self) -> str:
        return f"{self.public_url.rstrip('/')}/api/identity/auth/oauth"
