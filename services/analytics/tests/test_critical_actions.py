"""AC-10: every critical action of the other contexts (docs/events.md) is found in the activity or audit log."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import asyncpg
import httpx
from conftest import TEST_IP, Producer, wait_processed

from parla_shared.events.envelope import EventEnvelope
from parla_testing import TokenFactory, bearer

CURRICULUM_ENTITIES = (
    "language",
    "course",
    "section",
    "unit",
    "lesson",
    "lesson_prerequisite",
    "exercise",
    "exercise_option",
    "lesson_exercise",
    "audio_file",
)


async def test_every_critical_action_is_in_the_activity_or_audit_log(
    client: httpx.AsyncClient, producers: dict[str, Producer], analytics_db: asyncpg.Pool, make_token: TokenFactory
) -> None:
    admin_id, learner_id, course_id, lesson_id = uuid4(), uuid4(), uuid4(), uuid4()
    user, course, lesson, session = str(learner_id), str(course_id), str(lesson_id), str(uuid4())
    identity, curriculum, progress = producers["identity"], producers["curriculum"], producers["progress"]

    # (event, where it must be found: activity_type of the learner's log, or action of the audit log)
    learner_actions: list[tuple[EventEnvelope, str]] = []
    admin_actions: list[tuple[EventEnvelope, str]] = []

    async def learner(event_type: str, data: dict[str, Any], activity_type: str, producer: Producer) -> None:
        learner_actions.append((await producer.emit(event_type, {"user_id": user, **data}), activity_type))

    async def audited(producer: Producer, event_type: str, data: dict[str, Any], action: str) -> None:
        admin_actions.append((await producer.emit(event_type, data, actor_id=admin_id), action))

    await learner(
        "parla.identity.user.registered",
        {
            "email": "ana@example.com",
            "name": "Ana",
            "timezone": "Europe/Madrid",
            "daily_xp_goal": 20,
            "method": "password",
        },
        "registration",
        identity,
    )
    await learner("parla.identity.user.email_verified", {}, "email_verified", identity)
    await learner("parla.identity.user.logged_in", {"method": "password"}, "login", identity)
    await learner(
        "parla.identity.user.updated",
        {
            "changes": {"timezone": {"old": "Europe/Madrid", "new": "America/Lima"}},
            "timezone": "America/Lima",
            "daily_xp_goal": 20,
        },
        "profile_update",
        identity,
    )
    await learner("parla.identity.user.password_reset_requested", {}, "password_reset_requested", identity)
    await learner("parla.identity.user.password_reset", {}, "password_reset", identity)
    await learner("parla.identity.user.logged_out", {}, "logout", identity)
    await learner("parla.progress.enrollment.created", {"course_id": course}, "enrollment", progress)
    await learner(
        "parla.progress.lesson.started",
        {"course_id": course, "lesson_id": lesson, "session_id": session, "practice": False},
        "lesson_start",
        progress,
    )
    await learner(
        "parla.progress.exercise.answered",
        {
            "course_id": course,
            "lesson_id": lesson,
            "session_id": session,
            "exercise_id": str(uuid4()),
            "correct": True,
            "attempt_number": 1,
            "time_spent_seconds": 3,
            "hints_used": 0,
            "hearts_lost": 0,
            "xp_earned": 0,
        },
        "exercise_answer",
        progress,
    )
    await learner(
        "parla.progress.lesson.completed",
        {
            "course_id": course,
            "lesson_id": lesson,
            "session_id": session,
            "score": 100,
            "correct_count": 1,
            "total_count": 1,
            "perfect": True,
            "xp_earned": 10,
            "practice": False,
        },
        "lesson_complete",
        progress,
    )
    await learner(
        "parla.progress.xp.earned",
        {"amount": 10, "source": "lesson", "local_date": "2026-11-25"},
        "xp_earned",
        progress,
    )
    await learner(
        "parla.progress.hearts.changed",
        {"action": "lose", "hearts_before": 5, "hearts_after": 4, "reason": "wrong_answer"},
        "hearts_change",
        progress,
    )
    await learner(
        "parla.progress.streak.extended",
        {"current_streak": 2, "longest_streak": 2, "local_date": "2026-11-25"},
        "streak_extended",
        progress,
    )
    await learner(
        "parla.progress.achievement.unlocked",
        {"achievement_id": str(uuid4()), "name": "First steps", "xp_reward": 5},
        "achievement_unlocked",
        progress,
    )

    for entity in CURRICULUM_ENTITIES:
        record = str(uuid4())
        for verb, old, new in (
            ("created", None, {"id": record, "name": "v1"}),
            ("updated", {"id": record, "name": "v1"}, {"id": record, "name": "v2"}),
            ("deleted", {"id": record, "name": "v2"}, None),
        ):
            action = f"{entity}_{verb.removesuffix('d')}"
            await audited(
                curriculum,
                f"parla.curriculum.{entity}.{verb}",
                {"entity": entity, "id": record, "old": old, "new": new},
                action,
            )
    await audited(
        curriculum,
        "parla.curriculum.course.imported",
        {"course_id": course, "key": "es-en", "created": 40, "updated": 0, "deleted": 0},
        "course_import",
    )
    await audited(
        identity,
        "parla.identity.user.role_granted",
        {"user_id": str(uuid4()), "role": "admin", "old_roles": ["learner"], "new_roles": ["learner", "admin"]},
        "role_grant",
    )
    await audited(
        identity,
        "parla.identity.user.role_revoked",
        {"user_id": str(uuid4()), "role": "admin", "old_roles": ["learner", "admin"], "new_roles": ["learner"]},
        "role_revoke",
    )
    await audited(
        identity,
        "parla.identity.user.deleted",
        {"user_id": str(uuid4()), "deleted_by": str(admin_id), "reason": "admin"},
        "user_delete",
    )
    await wait_processed(analytics_db, *(event for event, _ in learner_actions + admin_actions))

    admin = bearer(make_token(uuid4(), roles=("admin",)))
    activity = (await client.get(f"/users/{learner_id}/activity?limit=100", headers=admin)).json()["items"]
    found = {item["id"]: item for item in activity}
    for event, activity_type in learner_actions:
        assert str(event.id) in found, f"{event.type} is missing from the activity log"
        assert found[str(event.id)]["activity_type"] == activity_type
        assert found[str(event.id)]["ip_address"] == TEST_IP
    assert "email" not in found[str(learner_actions[0][0].id)]["activity_data"]

    for event, action in admin_actions:
        entries = (await client.get(f"/audit-log?action={action}&limit=100", headers=admin)).json()["items"]
        entry = next((entry for entry in entries if entry["id"] == str(event.id)), None)
        assert entry is not None, f"{event.type} is missing from the audit log"
        assert entry["ip_address"] == TEST_IP
        assert entry["admin_user_id"] == str(admin_id)
        if event.type.startswith("parla.curriculum.") and event.type != "parla.curriculum.course.imported":
            assert entry["old_values"] == event.data["old"]
            assert entry["new_values"] == event.data["new"]
            assert entry["record_id"] == event.data["id"]
            assert entry["table_name"] == f"{event.data['entity']}s"

    verification = (await client.get("/audit-log/verify", headers=admin)).json()
    assert verification["ok"] is True, verification
    assert verification["checked"] >= len(admin_actions)


async def test_an_admin_changing_someone_elses_account_is_audited_without_personal_data(
    client: httpx.AsyncClient, producers: dict[str, Producer], analytics_db: asyncpg.Pool, make_token: TokenFactory
) -> None:
    admin_id, learner_id = uuid4(), uuid4()
    event = await producers["identity"].emit(
        "parla.identity.user.updated",
        {
            "user_id": str(learner_id),
            "changes": {"name": {"old": "Ana", "new": "Ana B"}, "daily_xp_goal": {"old": 10, "new": 30}},
            "timezone": "UTC",
            "daily_xp_goal": 30,
        },
        actor_id=admin_id,
    )
    await wait_processed(analytics_db, event)
    admin = bearer(make_token(uuid4(), roles=("admin",)))
    entries = (await client.get("/audit-log?action=user_update&table=users", headers=admin)).json()["items"]
    entry = next(entry for entry in entries if entry["id"] == str(event.id))
    assert entry["old_values"] == {"name": "[redacted]", "daily_xp_goal": 10}
    assert entry["new_values"] == {"name": "[redacted]", "daily_xp_goal": 30}
    assert entry["record_id"] == str(learner_id)


async def test_a_version_2_update_names_personal_fields_without_values(
    client: httpx.AsyncClient, producers: dict[str, Producer], analytics_db: asyncpg.Pool, make_token: TokenFactory
) -> None:
    """Identity's version 2 ``user.updated`` lists changed personal fields in ``changed_fields`` only."""
    admin_id, learner_id = uuid4(), uuid4()
    event = await producers["identity"].emit(
        "parla.identity.user.updated",
        {
            "user_id": str(learner_id),
            "changed_fields": ["avatar_url", "daily_xp_goal", "name"],
            "changes": {"daily_xp_goal": {"old": 10, "new": 30}},
            "timezone": "UTC",
            "daily_xp_goal": 30,
        },
        actor_id=admin_id,
    )
    await wait_processed(analytics_db, event)
    admin = bearer(make_token(uuid4(), roles=("admin",)))
    entries = (await client.get("/audit-log?action=user_update&table=users", headers=admin)).json()["items"]
    entry = next(entry for entry in entries if entry["id"] == str(event.id))
    assert entry["old_values"] == {"avatar_url": "[redacted]", "name": "[redacted]", "daily_xp_goal": 10}
    assert entry["new_values"] == {"avatar_url": "[redacted]", "name": "[redacted]", "daily_xp_goal": 30}
