from parla_testing import ServiceContract


class TestAnalyticsServiceContract(ServiceContract):
    """Health, readiness, OpenAPI, metrics, problem+json, request ids, token rejection and migrations."""
