"""AC-11 end to end: whatever the moments at which a learner answers wrongly or looks, the hearts the service
shows (after a round trip through PostgreSQL) are those the lazy rule gives, stay within 0..5, and reading
changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from conftest import Content, LearnerClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from parla_progress.clock import ManualClock
from parla_progress.domain.hearts import HeartsState, hearts_at, lose_heart
from parla_testing import TokenFactory

FOUR_HOURS = timedelta(hours=4)
# Mostly wrong answers, often minutes apart: five wrong answers before a heart comes back is what reaches
# zero hearts (the 403 and the regeneration from empty), which hours-long waits alone almost never do.
steps = st.lists(
    st.tuples(
        st.sampled_from(["wrong", "wrong", "wrong", "read"]),
        st.one_of(
            st.integers(min_value=0, max_value=1800).map(lambda s: timedelta(seconds=s)),
            st.integers(min_value=0, max_value=10 * 3600).map(lambda s: timedelta(seconds=s)),
            st.integers(min_value=0, max_value=3).map(lambda n: n * FOUR_HOURS),
        ),
    ),
    min_size=1,
    max_size=12,
)
# Always run once: out of hearts, refused, one heart back exactly after four hours, then lost again.
DRAINED = [*[("wrong", timedelta(minutes=1))] * 6, ("read", FOUR_HOURS - timedelta(minutes=5)), ("wrong", timedelta(0))]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=steps)
@example(operations=DRAINED)
async def test_hearts_read_through_the_api_follow_the_lazy_rule(
    operations: list[tuple[str, timedelta]],
    client: httpx.AsyncClient,
    make_token: TokenFactory,
    content: Content,
    clock: ManualClock,
) -> None:
    user_id = uuid.uuid4()
    learner = LearnerClient(client, make_token(user_id), user_id, content)
    await learner.enrol(content.test_id)
    now = datetime(2040, 1, 1, tzinfo=UTC) + timedelta(days=len(operations))
    clock.set(now)
    try:
        session = await learner.start((await learner.lessons(content.test_id))[0]["lesson_id"])
        model = HeartsState()
        for operation, wait in operations:
            now += wait
            clock.set(now)
            expected = hearts_at(model, now)
            if operation == "wrong":
                response = await learner.answer(session["session_id"], session["exercise_ids"][0], correct=False)
                if expected.hearts == 0:
                    assert response.status_code == 403
                else:
                    assert response.status_code == 200, response.text
                    model, _ = lose_heart(model, now)
                    assert response.json()["hearts"] == expected.hearts - 1
            me = await learner.me()
            view = hearts_at(model, now)
            assert 0 <= me["hearts"] <= 5
            assert me["hearts"] == view.hearts
            shown = me["next_heart_at"]
            assert (None if shown is None else datetime.fromisoformat(shown)) == view.next_heart_at
            assert await learner.me() == me
    finally:
        clock.release()
