from parla_testing import ServiceContract


class TestIdentityServiceContract(ServiceContract):
    """Health, readiness, OpenAPI, metrics, problem+json, request ids, token rejection and migrations."""
