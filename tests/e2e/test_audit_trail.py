"""AC-10 across the platform: every critical action, taken through the gateway in the service that owns it,
is found in analytics' activity or audit log (the events travel outbox → JetStream → analytics)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import answer_key

ID, CUR, PRO, AN = "/api/identity", "/api/curriculum", "/api/progress", "/api/analytics"
PASSWORD = "Audit-trail1"
ADMIN = {"email": "admin@parla.local", "password": "ParlaAdmin1!"}


def _bearer(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _eventually(read: Callable[[], Any], done: Callable[[Any], bool], what: str, timeout: float = 45.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} never reached analytics; last seen: {value}")
        time.sleep(0.3)


def test_every_critical_action_reaches_the_activity_or_audit_log(
    gateway: httpx.Client, mailed_code: Callable[[str, str], str]
) -> None:
    agent = f"parla-audit-trail/{uuid.uuid4().hex[:8]}"
    gateway.headers["User-Agent"] = agent
    email = f"audit-{uuid.uuid4().hex[:12]}@example.com"

    # identity: registration, email verification, login, profile change, password reset
    registered = gateway.post(f"{ID}/auth/register", json={"email": email, "password": PASSWORD, "name": "Ada"})
    assert registered.status_code == 201, registered.text
    user_id = registered.json()["id"]
    assert gateway.post(f"{ID}/auth/verify-email", json={"token": mailed_code(email, "Confirm")}).status_code == 200
    learner = _bearer(gateway.post(f"{ID}/auth/login", json={"email": email, "password": PASSWORD}))
    patched = gateway.patch(f"{ID}/users/me", json={"timezone": "Asia/Tokyo", "daily_xp_goal": 30}, headers=learner)
    assert patched.status_code == 200, patched.text
    assert gateway.post(f"{ID}/auth/password-reset", json={"email": email}).status_code == 202
    new_password = PASSWORD + "x"
    confirm = {"token": mailed_code(email, "Reset"), "new_password": new_password}
    assert gateway.post(f"{ID}/auth/password-reset/confirm", json=confirm).status_code == 204
    learner = _bearer(gateway.post(f"{ID}/auth/login", json={"email": email, "password": new_password}))

    # progress: enrolment, lesson start, an answer, lesson completion
    course_id = gateway.get(f"{CUR}/courses", params={"from": "en", "to": "es"}).json()[0]["id"]
    tree = gateway.get(f"{CUR}/courses/{course_id}").json()
    lesson = tree["sections"][0]["units"][0]["lessons"][0]
    assert gateway.post(f"{PRO}/enrollments", json={"course_id": course_id}, headers=learner).status_code == 201
    session = gateway.post(f"{PRO}/lessons/{lesson['id']}/sessions", headers=learner)
    assert session.status_code == 201, session.text
    session_id, exercise_ids = session.json()["session_id"], session.json()["exercise_ids"]
    right, wrong = answer_key(exercise_ids)
    for number, exercise_id in enumerate(exercise_ids):
        text = wrong[exercise_id] if number == 0 else right[exercise_id]
        answer = {"exercise_id": exercise_id, "answer": text, "time_spent_seconds": 7, "hints_used": 0}
        answered = gateway.post(f"{PRO}/sessions/{session_id}/answers", json=answer, headers=learner)
        assert answered.status_code == 200, answered.text
    assert gateway.post(f"{PRO}/sessions/{session_id}/complete", headers=learner).status_code == 200

    expected_activity = {
        "registration",
        "email_verified",
        "login",
        "profile_update",
        "password_reset_requested",
        "password_reset",
        "enrollment",
        "lesson_start",
        "exercise_answer",
        "lesson_complete",
    }
    seen = _eventually(
        lambda: {
            item["activity_type"]
            for item in gateway.get(f"{AN}/me/activity", params={"limit": 100}, headers=learner).json()["items"]
            if item["user_agent"] == agent
        },
        lambda types: expected_activity <= types,
        "the learner's actions",
    )
    assert expected_activity <= seen

    # curriculum: an administrator's content change, with old and new values
    admin = _bearer(gateway.post(f"{ID}/auth/login", json=ADMIN))
    original = gateway.get(f"{CUR}/admin/lessons/{lesson['id']}", headers=admin).json()
    marker = f"audited {uuid.uuid4().hex[:6]}"
    changed = gateway.patch(f"{CUR}/admin/lessons/{lesson['id']}", json={"description": marker}, headers=admin)
    assert changed.status_code == 200, changed.text
    restored = gateway.patch(
        f"{CUR}/admin/lessons/{lesson['id']}", json={"description": original["description"]}, headers=admin
    )
    assert restored.status_code == 200, restored.text

    # identity: the learner deletes their account (FR-5)
    assert gateway.delete(f"{ID}/users/me", headers=learner).status_code == 204

    def audit(action: str) -> list[dict[str, Any]]:
        page = gateway.get(f"{AN}/audit-log", params={"action": action, "limit": 100}, headers=admin).json()
        return list(page["items"])

    content_change = _eventually(
        lambda: [e for e in audit("lesson_update") if (e["new_values"] or {}).get("description") == marker],
        bool,
        "the lesson update",
    )[0]
    assert content_change["record_id"] == lesson["id"]
    assert content_change["old_values"]["description"] == original["description"]
    deletion = _eventually(
        lambda: [e for e in audit("user_delete") if e["record_id"] == user_id], bool, "the account deletion"
    )[0]
    assert deletion["old_values"] == {"user_id": user_id}

    # erasure: the deleted learner's activity is gone; the chain still verifies
    _eventually(
        lambda: gateway.get(f"{AN}/users/{user_id}/activity", headers=admin).json()["items"],
        lambda items: items == [],
        "the erasure of the learner's activity",
    )
    verification = gateway.get(f"{AN}/audit-log/verify", headers=admin).json()
    assert verification["ok"] is True, verification
