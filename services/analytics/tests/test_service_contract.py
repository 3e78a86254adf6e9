from typing import Any

from parla_testing import ServiceContract

# What a generated SDK calls each of analytics' operations: renaming a handler renames its method, so this list is
# the contract's to change, on purpose.
SDK_METHODS = {
    ("get", "/me/activity"): "listMyActivity",
    ("get", "/users/{user_id}/activity"): "listUserActivity",
    ("get", "/lessons/completion-rates"): "getCompletionRates",
    ("get", "/exercises/accuracy"): "getExerciseAccuracy",
    ("get", "/engagement/daily-active"): "getDailyActive",
    ("get", "/engagement/retention-cohorts"): "getRetentionCohorts",
    ("get", "/audit-log"): "listAuditLog",
    ("get", "/audit-log/verify"): "verifyAuditLog",
}


class TestAnalyticsServiceContract(ServiceContract):
    """Health, readiness, OpenAPI, metrics, problem+json, request ids, token rejection and migrations."""


async def test_each_operation_keeps_its_sdk_method_name(client: Any) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    operation_ids = {
        (method, path): operation["operationId"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if not path.startswith(("/health", "/ready", "/metrics", "/schema"))
    }
    assert operation_ids == SDK_METHODS
