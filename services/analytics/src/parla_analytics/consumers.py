"""Durable consumers of every context's events: learner actions → activity log, admin changes → audit log.

Unknown event types are never an error: one that names a ``user_id`` is recorded as generic activity
(``<aggregate>_<verb>``); curriculum events are all content changes and are audited generically; anything
else is acknowledged and skipped (logged).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import partial
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from parla_analytics.domain.activity import as_uuid, valid_ip
from parla_analytics.use_cases import activity
from parla_analytics.use_cases.activity import Activity, ExerciseTally, LessonTally
from parla_analytics.use_cases.audit_log import AuditEntry, append_audit_entry
from parla_shared.db import driver_connection
from parla_shared.events.consumer import Subscription
from parla_shared.events.envelope import EventEnvelope

_log = structlog.get_logger("parla.analytics.consumers")

IDENTITY_ACTIVITY = {
    "parla.identity.user.registered": "registration",
    "parla.identity.user.updated": "profile_update",
    "parla.identity.user.logged_in": "login",
    "parla.identity.user.logged_out": "logout",
    "parla.identity.user.email_verified": "email_verified",
    "parla.identity.user.password_reset_requested": "password_reset_requested",
    "parla.identity.user.password_reset": "password_reset",
}
PROGRESS_ACTIVITY = {
    "parla.progress.enrollment.created": "enrollment",
    "parla.progress.lesson.started": "lesson_start",
    "parla.progress.exercise.answered": "exercise_answer",
    "parla.progress.lesson.completed": "lesson_complete",
    "parla.progress.xp.earned": "xp_earned",
    "parla.progress.hearts.changed": "hearts_change",
    "parla.progress.streak.extended": "streak_extended",
    "parla.progress.achievement.unlocked": "achievement_unlocked",
    "parla.progress.streak.freeze_used": "streak_freeze_used",
    "parla.progress.streak.freeze_earned": "streak_freeze_earned",
}
# Personal data identity sends that the activity log has no need to copy.
_REGISTRATION_PRIVATE = {"email", "name"}
_AUDIT_REDACTED = {"email", "name", "avatar_url", "password", "password_hash"}
_VERBS = {"created": "create", "updated": "update", "deleted": "delete", "imported": "import"}


def generic_activity_type(event_type: str) -> str:
    """``parla.progress.streak.frozen`` → ``streak_frozen``."""
    return "_".join(event_type.split(".")[2:])[:100] or "unknown"


def _without(data: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in keys}


def _as_activity(event: EventEnvelope, activity_type: str, data: dict[str, Any]) -> Activity | None:
    user_id = as_uuid(event.data.get("user_id"))
    if user_id is None:
        _log.warning("event without a user id skipped", type=event.type, event_id=str(event.id))
        return None
    return Activity(
        event_id=event.id,
        user_id=user_id,
        activity_type=activity_type,
        activity_data=data,
        occurred_at=event.occurred_at,
        ip=event.ip,
        user_agent=event.user_agent,
    )


async def _activity(session: AsyncSession, event: EventEnvelope, activity_type: str, data: dict[str, Any]) -> bool:
    recorded = _as_activity(event, activity_type, data)
    return recorded is not None and await activity.record_activity(session, recorded)


def _audit(event: EventEnvelope, action: str, **fields: Any) -> AuditEntry:
    return AuditEntry(
        id=event.id,
        action=action[:100],
        created_at=event.occurred_at,
        admin_user_id=event.actor_id,
        ip_address=valid_ip(event.ip),
        **fields,
    )


def _audited_changes(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Old and new values of a ``user.updated``; personal fields (absent from version 2) read ``[redacted]``."""
    changes = data.get("changes")
    changes = changes if isinstance(changes, dict) else {}
    fields = data.get("changed_fields")
    fields = [str(field) for field in fields] if isinstance(fields, list) else list(changes)
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for field in fields:
        change = changes.get(field)
        if field in _AUDIT_REDACTED or not isinstance(change, dict):
            old[field] = new[field] = "[redacted]"
        else:
            old[field], new[field] = change.get("old"), change.get("new")
    return old, new


async def handle_identity(session: AsyncSession, event: EventEnvelope, *, audit_key: bytes) -> None:
    data = event.data
    user_id = as_uuid(data.get("user_id"))
    match event.type:
        case "parla.identity.user.deleted":
            if user_id is None:
                _log.warning("user.deleted without a user id skipped", event_id=str(event.id))
                return
            await activity.erase_user(session, user_id)
            deleted_by = as_uuid(data.get("deleted_by")) or event.actor_id
            await append_audit_entry(
                session,
                AuditEntry(
                    id=event.id,
                    action="user_delete",
                    created_at=event.occurred_at,
                    admin_user_id=deleted_by,
                    table_name="users",
                    record_id=user_id,
                    old_values={"user_id": str(user_id)},
                    new_values={"reason": data.get("reason"), "deleted_by": str(deleted_by) if deleted_by else None},
                    ip_address=valid_ip(event.ip),
                ),
                audit_key,
            )
        case "parla.identity.user.role_granted" | "parla.identity.user.role_revoked":
            action = "role_grant" if event.type.endswith("granted") else "role_revoke"
            await append_audit_entry(
                session,
                _audit(
                    event,
                    action,
                    table_name="user_roles",
                    record_id=user_id,
                    old_values={"roles": data.get("old_roles")},
                    new_values={"roles": data.get("new_roles"), "role": data.get("role")},
                ),
                audit_key,
            )
        case "parla.identity.user.registered":
            if user_id is not None:
                await activity.record_signup(session, user_id, event.occurred_at)
            await _activity(session, event, "registration", _without(data, {"user_id", *_REGISTRATION_PRIVATE}))
        case "parla.identity.user.updated":
            await _activity(session, event, "profile_update", _without(data, {"user_id"}))
            # Someone else changing a user's account is an administrative action (FR-22).
            if user_id is not None and event.actor_id is not None and event.actor_id != user_id:
                old_values, new_values = _audited_changes(data)
                await append_audit_entry(
                    session,
                    _audit(
                        event,
                        "user_update",
                        table_name="users",
                        record_id=user_id,
                        old_values=old_values,
                        new_values=new_values,
                    ),
                    audit_key,
                )
        case _:
            activity_type = IDENTITY_ACTIVITY.get(event.type) or generic_activity_type(event.type)
            await _activity(session, event, activity_type, _without(data, {"user_id"}))


async def handle_curriculum(session: AsyncSession, event: EventEnvelope, *, audit_key: bytes) -> None:
    """Every curriculum event is a content change by an administrator (FR-22)."""
    data = event.data
    parts = event.type.split(".")
    aggregate, verb = (parts[2], parts[-1]) if len(parts) >= 4 else ("unknown", parts[-1])
    if event.type == "parla.curriculum.course.imported":
        entry = _audit(
            event,
            "course_import",
            table_name="courses",
            record_id=as_uuid(data.get("course_id")),
            new_values={key: data.get(key) for key in ("key", "created", "updated", "deleted")},
        )
    else:
        entity = str(data.get("entity") or aggregate)
        # A composite key (no single uuid) leaves record_id empty; the column values still carry it.
        entry = _audit(
            event,
            f"{entity}_{_VERBS.get(verb, verb)}",
            table_name=f"{entity}s"[:100],
            record_id=as_uuid(data.get("id")),
            old_values=data.get("old"),
            new_values=data.get("new"),
        )
    await append_audit_entry(session, entry, audit_key)


async def handle_progress(session: AsyncSession, events: Sequence[EventEnvelope]) -> None:
    """A batch of learner events: their activity rows and rollups in a handful of statements, whatever its size."""
    by_event: dict[UUID, EventEnvelope] = {}
    activities: list[Activity] = []
    for event in events:
        activity_type = PROGRESS_ACTIVITY.get(event.type) or generic_activity_type(event.type)
        recorded = _as_activity(event, activity_type, _without(event.data, {"user_id"}))
        if recorded is not None:
            by_event[event.id] = event
            activities.append(recorded)
    driver = await driver_connection(session)
    lessons: defaultdict[UUID, LessonTally] = defaultdict(LessonTally)
    exercises: defaultdict[tuple[UUID, UUID], ExerciseTally] = defaultdict(ExerciseTally)
    # An unknown user id or an erased user's late event is not recorded, and counts in no rollup either.
    for recorded in await activity.record_activities(driver, activities):
        event = by_event[recorded.event_id]
        data = event.data
        lesson_id = as_uuid(data.get("lesson_id"))
        if lesson_id is None:
            continue
        match event.type:
            case "parla.progress.lesson.started":
                lesson = lessons[lesson_id]
                lesson.starts += 1
                lesson.course_id = as_uuid(data.get("course_id")) or lesson.course_id
            case "parla.progress.lesson.completed":
                lesson = lessons[lesson_id]
                lesson.completions += 1
                lesson.score_sum += float(data.get("score") or 0)
                lesson.course_id = as_uuid(data.get("course_id")) or lesson.course_id
            case "parla.progress.exercise.answered":
                exercise_id = as_uuid(data.get("exercise_id"))
                if exercise_id is not None:
                    exercise = exercises[lesson_id, exercise_id]
                    exercise.attempts += 1
                    exercise.correct += 1 if data.get("correct") else 0
                    exercise.time_spent_seconds += max(0.0, float(data.get("time_spent_seconds") or 0))
            case _:
                pass
    await activity.add_to_lesson_stats(driver, lessons)
    await activity.add_to_exercise_stats(driver, exercises)


def subscriptions(audit_key: bytes) -> list[Subscription]:
    """``audit_key`` keys the audit chain's hashes (a setting, never stored in the database)."""
    return [
        Subscription(
            "analytics-identity", "identity", ["parla.identity.>"], partial(handle_identity, audit_key=audit_key)
        ),
        Subscription(
            "analytics-curriculum",
            "curriculum",
            ["parla.curriculum.>"],
            partial(handle_curriculum, audit_key=audit_key),
        ),
        Subscription("analytics-progress", "progress", ["parla.progress.>"], batch_handler=handle_progress),
    ]
