from typing import Any

from parla_testing import ServiceContract

# What a generated SDK calls each of progress' operations: renaming a handler renames its method, so this list is
# the contract's to change, on purpose.
SDK_METHODS = {
    ("post", "/enrollments"): "enrol",
    ("get", "/enrollments"): "listEnrollments",
    ("get", "/me"): "getMyProgress",
    ("get", "/me/achievements"): "listMyAchievements",
    ("get", "/me/daily-xp"): "listMyDailyXp",
    ("get", "/me/review-forecast"): "getReviewForecast",
    ("get", "/courses/{course_id}"): "getCourseProgress",
    ("post", "/lessons/{lesson_id}/sessions"): "startLesson",
    ("post", "/practice-sessions"): "startPractice",
    ("get", "/leagues/current"): "getCurrentLeague",
    ("post", "/sessions/{session_id}/answers"): "answerExercise",
    ("post", "/sessions/{session_id}/complete"): "completeSession",
}


class TestProgressServiceContract(ServiceContract):
    """Health, readiness, OpenAPI, metrics, problem+json, request ids, token rejection and migrations."""


async def test_each_operation_keeps_its_sdk_method_name(client: Any) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    operation_ids = {
        (method, path): operation["operationId"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "progress" in operation.get("tags", ())
    }
    assert operation_ids == SDK_METHODS
