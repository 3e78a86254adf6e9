from parla_testing import ServiceContract

# What a generated SDK calls each of the service's operations: renaming a handler renames its method, so this list
# is the contract's to change, on purpose.
SDK_METHODS = {
    ("post", "/auth/login"): "login",
    ("post", "/auth/logout"): "logout",
    ("post", "/auth/password-reset"): "requestPasswordReset",
    ("post", "/auth/password-reset/confirm"): "confirmPasswordReset",
    ("post", "/auth/refresh"): "refresh",
    ("post", "/auth/register"): "register",
    ("post", "/auth/verify-email"): "verifyEmail",
    ("get", "/auth/oauth/{provider}/authorize"): "oauthAuthorize",
    ("get", "/auth/oauth/{provider}/callback"): "oauthCallback",
    ("get", "/users/me"): "getMe",
    ("delete", "/users/me"): "deleteMe",
    ("patch", "/users/me"): "updateMe",
    ("get", "/admin/users/{user_id}"): "getUser",
    ("delete", "/admin/users/{user_id}"): "deleteUser",
    ("put", "/admin/users/{user_id}/roles/{role}"): "grantRole",
    ("delete", "/admin/users/{user_id}/roles/{role}"): "revokeRole",
    ("get", "/admin/users"): "listUsers",
    ("get", "/.well-known/jwks.json"): "getJwks",
}


class TestIdentityServiceContract(ServiceContract):
    """Health, readiness, OpenAPI, metrics, problem+json, request ids, token rejection and migrations."""

    sdk_methods = SDK_METHODS
