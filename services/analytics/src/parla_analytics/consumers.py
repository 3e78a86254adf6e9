"""Durable consumers of every context's events: learner actions → activity log, admin changes → audit log.

Every event with a contract (``parla_shared.contracts``) is decoded into it first, so a payload that breaks its
contract is a dead letter with the reason, not a ``KeyError``. The activity log keeps the payload as sent (less
the user id and any personal data), so fields a producer adds later are recorded too. Unknown event types are
never an error: one that names a ``user_id`` is recorded as generic activity (``<aggregate>_<verb>``); curriculum
events are all content changes and are audited generically; anything else is acknowledged and skipped (logged).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import partial
from typing import Any
from uuid import UUID

import msgspec
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from parla_analytics.domain.activity import as_uuid, valid_ip
from parla_analytics.use_cases import activity
from parla_analytics.use_cases.activity import Activity, ExerciseTally, LessonTally
from parla_analytics.use_cases.audit_log import AuditEntry, append_audit_entry
from parla_shared.contracts import catalogue, decode
from parla_shared.contracts import curriculum as curriculum_events
from parla_shared.contracts import identity as identity_events
from parla_shared.contracts import progress as progress_events
from parla_shared.db import driver_connection
from parla_shared.events.consumer import Subscription
from parla_shared.events.envelope import EventEnvelope

_log = structlog.get_logger("parla.analytics.consumers")

IDENTITY_ACTIVITY = {
    identity_events.USER_REGISTERED: "registration",
    identity_events.USER_UPDATED: "profile_update",
    identity_events.USER_LOGGED_IN: "login",
    identity_events.USER_LOGGED_OUT: "logout",
    identity_events.USER_EMAIL_VERIFIED: "email_verified",
    identity_events.USER_PASSWORD_RESET_REQUESTED: "password_reset_requested",
    identity_events.USER_PASSWORD_RESET: "password_reset",
}
PROGRESS_ACTIVITY = {
    progress_events.ENROLLMENT_CREATED: "enrollment",
    progress_events.LESSON_STARTED: "lesson_start",
    progress_events.EXERCISE_ANSWERED: "exercise_answer",
    progress_events.LESSON_COMPLETED: "lesson_complete",
    progress_events.XP_EARNED: "xp_earned",
    progress_events.HEARTS_CHANGED: "hearts_change",
    progress_events.STREAK_EXTENDED: "streak_extended",
    progress_events.ACHIEVEMENT_UNLOCKED: "achievement_unlocked",
    progress_events.STREAK_FREEZE_USED: "streak_freeze_used",
    progress_events.STREAK_FREEZE_EARNED: "streak_freeze_earned",
    progress_events.LEAGUE_RESULT: "league_result",
}
# The contract of each event type with a single subject (curriculum's content changes are a family, below).
_CONTRACTS: dict[str, type[msgspec.Struct]] = {
    contract.event_type: contract.payload for contract in catalogue() if "{" not in contract.event_type
}
# Personal data identity sends that the activity log has no need to copy.
_REGISTRATION_PRIVATE = {"email", "name"}
_AUDIT_REDACTED = {"email", "name", "avatar_url", "password", "password_hash"}
_VERBS = {"created": "create", "updated": "update", "deleted": "delete", "imported": "import"}


def generic_activity_type(event_type: str) -> str:
    """``parla.progress.streak.frozen`` → ``streak_frozen``."""
    return "_".join(event_type.split(".")[2:])[:100] or "unknown"


def _checked(event: EventEnvelope) -> msgspec.Struct | None:
    """The payload as its contract, when its type has one."""
    contract = _CONTRACTS.get(event.type)
    return decode(event, contract) if contract is not None else None


def _without(data: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in keys}


def _as_activity(event: EventEnvelope, activity_type: str, data: dict[str, Any]) -> Activity | None:
    checked = _checked(event)
    user_id = getattr(checked, "user_id", None) if checked is not None else as_uuid(event.data.get("user_id"))
    if not isinstance(user_id, UUID):
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


def _audited_changes(update: identity_events.UserUpdated) -> tuple[dict[str, Any], dict[str, Any]]:
    """Old and new values of a ``user.updated``; personal fields (absent from version 2) read ``[redacted]``."""
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for field in update.fields_changed():
        change = update.changes.get(field)
        if field in _AUDIT_REDACTED or not isinstance(change, dict):
            old[field] = new[field] = "[redacted]"
        else:
            old[field], new[field] = change.get("old"), change.get("new")
    return old, new


async def handle_identity(session: AsyncSession, event: EventEnvelope, *, audit_key: bytes) -> None:
    data = event.data
    match event.type:
        case identity_events.USER_DELETED:
            deleted = decode(event, identity_events.UserDeleted)
            await activity.erase_user(session, deleted.user_id)
            await append_audit_entry(
                session,
                AuditEntry(
                    id=event.id,
                    action="user_delete",
                    created_at=event.occurred_at,
                    admin_user_id=deleted.deleted_by,
                    table_name="users",
                    record_id=deleted.user_id,
                    old_values={"user_id": str(deleted.user_id)},
                    new_values={"reason": deleted.reason, "deleted_by": str(deleted.deleted_by)},
                    ip_address=valid_ip(event.ip),
                ),
                audit_key,
            )
        case identity_events.USER_ROLE_GRANTED | identity_events.USER_ROLE_REVOKED:
            change = decode(event, identity_events.RoleChanged)
            action = "role_grant" if event.type == identity_events.USER_ROLE_GRANTED else "role_revoke"
            await append_audit_entry(
                session,
                _audit(
                    event,
                    action,
                    table_name="user_roles",
                    record_id=change.user_id,
                    old_values={"roles": change.old_roles},
                    new_values={"roles": change.new_roles, "role": change.role},
                ),
                audit_key,
            )
        case identity_events.USER_REGISTERED:
            registered = decode(event, identity_events.UserRegistered)
            await activity.record_signup(session, registered.user_id, event.occurred_at)
            await _activity(session, event, "registration", _without(data, {"user_id", *_REGISTRATION_PRIVATE}))
        case identity_events.USER_UPDATED:
            update = decode(event, identity_events.UserUpdated)
            await _activity(session, event, "profile_update", _without(data, {"user_id"}))
            # Someone else changing a user's account is an administrative action (FR-22).
            if event.actor_id is not None and event.actor_id != update.user_id:
                old_values, new_values = _audited_changes(update)
                await append_audit_entry(
                    session,
                    _audit(
                        event,
                        "user_update",
                        table_name="users",
                        record_id=update.user_id,
                        old_values=old_values,
                        new_values=new_values,
                    ),
                    audit_key,
                )
        case _:
            activity_type = IDENTITY_ACTIVITY.get(event.type) or generic_activity_type(event.type)
            await _activity(session, event, activity_type, _without(data, {"user_id"}))


def _content_change(event: EventEnvelope) -> curriculum_events.ContentChanged | None:
    """A ``parla.curriculum.<entity>.<action>`` of a known entity and action, as its contract."""
    parts = event.type.split(".")
    known = (
        len(parts) == 4
        and parts[2] in curriculum_events.CONTENT_ENTITIES
        and parts[3] in curriculum_events.CONTENT_ACTIONS
    )
    return decode(event, curriculum_events.ContentChanged) if known else None


async def handle_curriculum(session: AsyncSession, event: EventEnvelope, *, audit_key: bytes) -> None:
    """Every curriculum event is a content change by an administrator (FR-22)."""
    data = event.data
    parts = event.type.split(".")
    aggregate, verb = (parts[2], parts[-1]) if len(parts) >= 4 else ("unknown", parts[-1])
    if event.type == curriculum_events.COURSE_IMPORTED:
        imported = decode(event, curriculum_events.CourseImported)
        entry = _audit(
            event,
            "course_import",
            table_name="courses",
            record_id=imported.course_id,
            new_values={
                "key": imported.key,
                "created": imported.created,
                "updated": imported.updated,
                "deleted": imported.deleted,
            },
        )
    else:
        change = _content_change(event)
        entity = change.entity if change is not None else str(data.get("entity") or aggregate)
        record_id = change.id if change is not None else as_uuid(data.get("id"))
        # A composite key (no single uuid) leaves record_id empty; the column values still carry it.
        entry = _audit(
            event,
            f"{entity}_{_VERBS.get(verb, verb)}",
            table_name=f"{entity}s"[:100],
            record_id=record_id,
            old_values=change.old if change is not None else data.get("old"),
            new_values=change.new if change is not None else data.get("new"),
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
        match event.type:
            case progress_events.LESSON_STARTED:
                started = decode(event, progress_events.LessonStarted)
                if started.lesson_id is not None:
                    lesson = lessons[started.lesson_id]
                    lesson.starts += 1
                    lesson.course_id = started.course_id
            case progress_events.LESSON_COMPLETED:
                completed = decode(event, progress_events.LessonCompleted)
                if completed.lesson_id is not None:
                    lesson = lessons[completed.lesson_id]
                    lesson.completions += 1
                    lesson.score_sum += float(completed.score)
                    lesson.course_id = completed.course_id
            case progress_events.EXERCISE_ANSWERED:
                answered = decode(event, progress_events.ExerciseAnswered)
                exercise = exercises[answered.lesson_id, answered.exercise_id]
                exercise.attempts += 1
                exercise.correct += 1 if answered.correct else 0
                exercise.time_spent_seconds += max(0.0, float(answered.time_spent_seconds))
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
