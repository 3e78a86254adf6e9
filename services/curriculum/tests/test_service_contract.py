from parla_testing import ServiceContract


class TestCurriculumServiceContract(ServiceContract):
    """Health, readiness, OpenAPI, metrics, problem+json, request ids, token rejection and migrations."""
