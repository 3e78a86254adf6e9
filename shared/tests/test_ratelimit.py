"""The pure parts of parla_shared.ratelimit: limit parsing, key shapes, the 429 and the per-replica token bucket
(the PostgreSQL counters are tested through identity's and progress's limits)."""

from __future__ import annotations

import pytest

from parla_shared.ratelimit import KEY_MAX_LENGTH, RateLimit, TokenBuckets, limit_key, too_many


def test_a_limit_is_hits_per_seconds() -> None:
    assert RateLimit.parse("20/3600", setting="PARLA_X") == RateLimit(20, 3600)
    assert RateLimit.parse(" 5 / 60 ", setting="PARLA_X") == RateLimit(5, 60)
    for bad in ("20", "0/60", "5/0", "five/60", "-1/60", ""):
        with pytest.raises(ValueError, match="PARLA_X"):
            RateLimit.parse(bad, setting="PARLA_X")


def test_keys_too_long_for_the_column_are_hashed_not_truncated() -> None:
    assert limit_key("ip", "192.0.2.1") == "ip:192.0.2.1"
    long_subject = "a" * 400
    key = limit_key("ip", long_subject)
    assert len(key) <= KEY_MAX_LENGTH
    assert key.startswith("ip:sha256:")
    assert key != limit_key("ip", "b" * 400)


def test_too_many_answers_429_with_whole_seconds_to_wait() -> None:
    problem = too_many(0.2, "too many answers")
    assert problem.status_code == 429
    assert problem.headers == {"Retry-After": "1"}
    assert too_many(41.01, "x").headers == {"Retry-After": "42"}


def test_a_token_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    buckets = TokenBuckets(RateLimit(3, 6))  # 3 at once, then one every 2 seconds
    assert [buckets.take("a", now=100.0) for _ in range(3)] == [None, None, None]
    assert buckets.take("a", now=100.0) == pytest.approx(2.0)
    assert buckets.take("b", now=100.0) is None  # another client has its own bucket
    assert buckets.take("a", now=101.0) == pytest.approx(1.0)
    assert buckets.take("a", now=102.0) is None
    assert buckets.take("a", now=102.0) is not None


def test_token_buckets_keep_at_most_max_keys() -> None:
    buckets = TokenBuckets(RateLimit(1, 60), max_keys=2)
    for key in ("a", "b", "c"):
        assert buckets.take(key, now=0.0) is None
    # "a" was the least recently used and is forgotten: a fresh bucket, not a memory leak per forged address.
    assert buckets.take("a", now=0.0) is None
    assert buckets.take("c", now=0.0) is not None
