"""The invariants checked after each case against what every client was told: each acknowledged answer, session and
completion in progress exactly once (and nothing unacknowledged), hearts within 0..5, every event progress and
curriculum committed in analytics exactly once, the rollups agreeing with the rows and the audit chain verifying.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from harness.clients import Clients, LearnerRecord, bearer
from harness.platform import FaultPlatform


@dataclass(frozen=True)
class EventCounts:
    committed: int  # progress events in its outbox (committed with the change)
    unpublished: int
    in_analytics: int  # analytics activity rows made from them
    lost: int
    doubled: int  # activity rows or inbox records beyond one per event, or stream messages beyond one per event
    audit_lost: int
    audit_doubled: int


def event_counts(platform: FaultPlatform) -> EventCounts:
    row = platform.fetch(
        """
        WITH committed AS (SELECT id, published_at FROM progress.outbox),
             activity AS (SELECT id FROM analytics.user_activity_log WHERE id IN (SELECT id FROM committed)),
             inbox AS (SELECT event_id FROM analytics.inbox WHERE consumer = 'analytics-progress'),
             content AS (SELECT id FROM curriculum.outbox),
             audit AS (SELECT id FROM analytics.system_audit_log WHERE id IN (SELECT id FROM content))
        SELECT (SELECT count(*) FROM committed) AS committed,
               (SELECT count(*) FROM committed WHERE published_at IS NULL) AS unpublished,
               (SELECT count(*) FROM activity) AS activity_rows,
               (SELECT count(DISTINCT id) FROM activity) AS activity_events,
               (SELECT count(*) FROM inbox) - (SELECT count(DISTINCT event_id) FROM inbox) AS inbox_doubled,
               (SELECT count(*) FROM content) AS content_committed,
               (SELECT count(*) FROM audit) AS audit_rows,
               (SELECT count(DISTINCT id) FROM audit) AS audit_events,
               (SELECT count(*) - count(DISTINCT id) FROM analytics.system_audit_log) AS audit_ids_doubled
        """
    )[0]
    stream_doubled = platform.stream_messages("PARLA_PROGRESS") - row["committed"]
    return EventCounts(
        committed=row["committed"],
        unpublished=row["unpublished"],
        in_analytics=row["activity_events"],
        lost=row["committed"] - row["activity_events"],
        doubled=(row["activity_rows"] - row["activity_events"]) + row["inbox_doubled"] + max(stream_doubled, 0),
        audit_lost=row["content_committed"] - row["audit_events"],
        audit_doubled=(row["audit_rows"] - row["audit_events"]) + row["audit_ids_doubled"],
    )


def check_invariants(platform: FaultPlatform, clients: Clients) -> EventCounts:
    """Everything a client was acknowledged is in progress exactly once, nothing else is, hearts stayed in 0..5,
    every event reached analytics exactly once and the audit chain verifies. Returns the event counts."""
    for learner in clients.learners:
        _check_learner(platform, learner)
    totals = platform.fetch(
        """
        SELECT (SELECT count(*) FROM progress.user_exercise_interactions) AS interactions,
               (SELECT count(*) FROM progress.lesson_sessions WHERE status = 'completed' AND NOT practice) AS completed,
               (SELECT count(*) FROM progress.lesson_sessions WHERE NOT practice) AS started,
               (SELECT coalesce(sum(attempts), 0) FROM analytics.exercise_stats) AS stat_attempts,
               (SELECT coalesce(sum(completions), 0) FROM analytics.lesson_stats) AS stat_completions,
               (SELECT coalesce(sum(starts), 0) FROM analytics.lesson_stats) AS stat_starts
        """
    )[0]
    # The rollups are updated in the consumer's transaction: one count per event, row for row.
    assert totals["stat_attempts"] == totals["interactions"], dict(totals)
    assert totals["stat_completions"] == totals["completed"], dict(totals)
    assert totals["stat_starts"] == totals["started"], dict(totals)
    counts = event_counts(platform)
    assert (counts.lost, counts.doubled, counts.audit_lost, counts.audit_doubled) == (0, 0, 0, 0), counts
    verified = httpx.get(
        f"{platform.gateway_url}/api/analytics/audit-log/verify", headers=bearer(clients.admin_token), timeout=30
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is True, verified.json()
    return counts


def _check_learner(platform: FaultPlatform, learner: LearnerRecord) -> None:
    user = learner.user_id
    stored = platform.fetch(
        "SELECT a.session_id, a.idempotency_key, i.hearts_lost, i.is_correct FROM progress.lesson_session_answers a "
        "JOIN progress.user_exercise_interactions i ON i.id = a.interaction_id WHERE a.user_id = $1",
        user,
    )
    stored_keys = [(row["session_id"], row["idempotency_key"]) for row in stored]
    assert len(stored_keys) == len(set(stored_keys)), f"{learner.email}: an answer is stored twice"
    assert set(stored_keys) == set(learner.answers), (
        f"{learner.email}: answers acknowledged but not stored: {set(learner.answers) - set(stored_keys)}; "
        f"stored but never acknowledged: {set(stored_keys) - set(learner.answers)}"
    )
    interactions = platform.fetchval(
        "SELECT count(*) FROM progress.user_exercise_interactions WHERE user_id = $1", user
    )
    assert interactions == len(learner.answers), f"{learner.email}: {interactions} interactions"
    for row in stored:
        told = learner.answers[(row["session_id"], row["idempotency_key"])]
        assert (told["hearts_lost"], told["correct"]) == (row["hearts_lost"], row["is_correct"]), (learner.email, told)
    hearts_taken = platform.fetchval(
        "SELECT count(*) FROM progress.user_hearts_log WHERE user_id = $1 AND reason = 'incorrect_answer'", user
    )
    told_lost = sum(answer["hearts_lost"] for answer in learner.answers.values())
    assert hearts_taken == told_lost, f"{learner.email}: {hearts_taken} hearts taken, {told_lost} told"
    hearts = platform.fetch(
        "SELECT min(least(hearts_before, hearts_after)) AS low, max(greatest(hearts_before, hearts_after)) AS high "
        "FROM progress.user_hearts_log WHERE user_id = $1 "
        "UNION ALL SELECT hearts, hearts FROM progress.learners WHERE user_id = $1",
        user,
    )
    assert all(row["low"] is None or 0 <= row["low"] <= row["high"] <= 5 for row in hearts), hearts
    sessions = platform.fetch("SELECT id, status FROM progress.lesson_sessions WHERE user_id = $1", user)
    assert learner.started <= {row["id"] for row in sessions}, f"{learner.email}: an acknowledged start is missing"
    completed = {row["id"] for row in sessions if row["status"] == "completed"}
    assert completed == set(learner.completions), f"{learner.email}: completed {completed ^ set(learner.completions)}"
    xp = platform.fetch(
        "SELECT total_xp, (SELECT coalesce(sum(xp_earned), 0) FROM progress.user_daily_xp WHERE user_id = $1) AS daily "
        "FROM progress.learners WHERE user_id = $1",
        user,
    )[0]
    told_xp = sum(result["xp_earned"] for result in learner.completions.values())
    assert xp["total_xp"] == xp["daily"] == told_xp, (learner.email, dict(xp), told_xp)
