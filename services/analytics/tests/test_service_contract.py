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

    sdk_methods = SDK_METHODS
