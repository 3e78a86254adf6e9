"""Lesson loading under concurrent load (AC-6: p95 < 100 ms): ``GET /api/curriculum/lessons/{id}``.

Anonymous, like the app before a learner starts a lesson; each user reads the course tree once
(on_start) and then loads random lessons, half of them revalidating with ``If-None-Match`` the way a
client holding a cached copy does. Run (see docs/performance.md (curriculum)):

    locust -f loadtests/curriculum.py --headless -u 50 -r 10 -t 60s --host http://localhost:8080
"""

from __future__ import annotations

import random

from locust import HttpUser, between, task


class LessonLoader(HttpUser):
    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        courses = self.client.get("/api/curriculum/courses", params={"from": "en", "to": "es"}).json()
        tree = self.client.get(f"/api/curriculum/courses/{courses[0]['id']}", name="/courses/{id}").json()
        self.lesson_ids = [
            lesson["id"] for section in tree["sections"] for unit in section["units"] for lesson in unit["lessons"]
        ]
        self.etags: dict[str, str] = {}

    @task(1)
    def load_lesson(self) -> None:
        lesson_id = random.choice(self.lesson_ids)
        with self.client.get(
            f"/api/curriculum/lessons/{lesson_id}", name="/lessons/{id}", catch_response=True
        ) as response:
            if response.status_code == 200 and response.json()["exercises"]:
                self.etags[lesson_id] = response.headers["ETag"]
                response.success()
            else:
                response.failure(f"status {response.status_code}")

    @task(1)
    def revalidate_lesson(self) -> None:
        lesson_id = random.choice(self.lesson_ids)
        etag = self.etags.get(lesson_id)
        headers = {"If-None-Match": etag} if etag else {}
        with self.client.get(
            f"/api/curriculum/lessons/{lesson_id}",
            name="/lessons/{id} (If-None-Match)",
            headers=headers,
            catch_response=True,
        ) as response:
            if response.status_code in (200, 304):
                response.success()
            else:
                response.failure(f"status {response.status_code}")
