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

    sdk_methods = SDK_METHODS
