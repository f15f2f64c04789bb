"""The retry scheme: which outcome leads to which action, and the backoff delays."""

from __future__ import annotations

import random

import pytest

from obsarchive.ingester.exceptions import (
    BackoffRetryError,
    DoNotRetryError,
    NonFatalDoNotRetryError,
    RetryError,
)
from obsarchive.ingester.flow.errors import MessageError
from obsarchive.ingester.flow.retry import Action, RetryPolicy
from obsarchive.products.errors import InvalidProductError

POLICY = RetryPolicy(
    max_attempts=5, unexpected_max_attempts=2, backoff_base=2, backoff_cap=20, retry_delay=7
)


def test_success_and_already_archived_are_acked():
    assert POLICY.decide(None, 1).action is Action.INGESTED
    decision = POLICY.decide(NonFatalDoNotRetryError("Version with this md5 already exists"), 3)
    assert decision.action is Action.ALREADY_ARCHIVED


@pytest.mark.parametrize(
    "exc",
    [
        DoNotRetryError("Could not find required keywords in headers!"),
        InvalidProductError("x.fits", "not FITS"),
        MessageError("no filepath"),
        FileNotFoundError(2, "No such file or directory"),
    ],
)
def test_permanent_failures_are_dead_lettered_at_once_with_class_and_traceback(exc):
    try:
        raise exc
    except Exception as raised:
        decision = POLICY.decide(raised, 1)
    assert decision.action is Action.DEAD
    assert type(exc).__name__ in decision.reason
    assert decision.error_class.endswith(type(exc).__qualname__)
    assert "Traceback" in decision.traceback


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    rng = random.Random(1)
    policy = RetryPolicy(backoff_base=2, backoff_cap=20, jitter=0.5)
    for attempt, full in [(1, 2), (2, 4), (3, 8), (4, 16), (5, 20), (30, 20), (10_000, 20)]:
        delays = [policy.backoff(attempt, rng) for _ in range(200)]
        assert all(full * 0.5 <= d <= full for d in delays)
        assert max(delays) - min(delays) > full * 0.3  # jittered, not constant
    assert RetryPolicy(jitter=0).backoff(3) == 8.0


def test_backoff_retry_error_retries_pauses_the_worker_then_gives_up():
    decision = POLICY.decide(BackoffRetryError("archive down"), 2, random.Random(0))
    assert decision.action is Action.RETRY
    assert 2 <= decision.delay <= 4
    assert decision.service_trouble
    final = POLICY.decide(BackoffRetryError("archive down"), 5)
    assert final.action is Action.DEAD
    assert "gave up after 5 attempts" in final.reason


def test_retry_after_from_the_archive_is_honoured_up_to_the_cap():
    decision = POLICY.decide(BackoffRetryError("429", retry_after=15), 1)
    assert decision.delay == 15
    assert POLICY.decide(BackoffRetryError("429", retry_after=3600), 1).delay == 20


def test_retry_error_uses_the_fixed_delay():
    decision = POLICY.decide(RetryError("again"), 1)
    assert (decision.action, decision.delay, decision.service_trouble) == (Action.RETRY, 7, False)
    assert POLICY.decide(RetryError("again"), 5).action is Action.DEAD


def test_unexpected_errors_get_a_few_backoff_retries_then_dead_letter():
    first = POLICY.decide(ZeroDivisionError("bug"), 1)
    assert first.action is Action.RETRY
    assert first.reason == "unexpected error: ZeroDivisionError: bug"
    assert first.traceback is not None
    last = POLICY.decide(ZeroDivisionError("bug"), 2)
    assert last.action is Action.DEAD
    assert "unexpected error, gave up after 2 attempts" in last.reason


def test_policy_validation():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=2)
