"""What the worker does with each outcome of an ingest: the retry scheme.

==============================  ===============================================================
outcome                         action
==============================  ===============================================================
success                         ack; ledger ``ingested`` with the frame id
``NonFatalDoNotRetryError``     ack; ledger ``already_archived`` (the md5 is in the archive)
``BackoffRetryError``           retry after ``min(cap, base * 2**(attempt-1))`` seconds, reduced
                                by up to ``jitter`` (so workers that failed together do not
                                retry together), at least the archive's ``Retry-After``; the
                                worker also pauses (the archive or the store is in trouble)
``RetryError``                  retry after the fixed ``retry_delay``
``DoNotRetryError``, a bad      dead-letter at once, with reason, class and traceback
product, a bad message, a
missing file
attempts exhausted              dead-letter (``max_attempts`` starts, crashes included)
any other exception             decided: treated as a *temporary* failure with backoff, but only
                                ``unexpected_max_attempts`` times, then dead-lettered with its
                                traceback. An unknown error is most often a bug or a broken
                                environment: a few retries ride out the transient cases without
                                letting one message loop for ever.
==============================  ===============================================================
"""

from __future__ import annotations

import random
import traceback as tb
from dataclasses import dataclass
from enum import StrEnum

from obsarchive.ingester.exceptions import (
    BackoffRetryError,
    DoNotRetryError,
    NonFatalDoNotRetryError,
    RetryError,
)
from obsarchive.ingester.flow.errors import MessageError
from obsarchive.products.errors import ProductError

__all__ = ["Action", "Decision", "RetryPolicy", "describe"]


class Action(StrEnum):
    """What happens to a message after an attempt."""

    INGESTED = "ingested"
    ALREADY_ARCHIVED = "already_archived"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True)
class Decision:
    """The worker's next step for one message.

    ``service_trouble`` is set when the failure says the archive or the object store is down,
    so the worker should pause before taking more messages (not only delay this one).
    """

    action: Action
    delay: float = 0.0
    reason: str = ""
    error_class: str = ""
    traceback: str | None = None
    service_trouble: bool = False


def describe(exc: BaseException) -> str:
    """``ClassName: message`` (class name alone when the message is empty)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _qualname(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def _format(exc: BaseException) -> str:
    return "".join(tb.format_exception(exc))


@dataclass(frozen=True)
class RetryPolicy:
    """Retry limits and delays (environment: ``INGEST_MAX_ATTEMPTS``, ``INGEST_BACKOFF_BASE``,
    ``INGEST_BACKOFF_CAP``, ``INGEST_RETRY_DELAY``, ``INGEST_UNEXPECTED_MAX_ATTEMPTS``).

    Attempt numbers start at 1 and count every start of the message, so a message whose worker
    is killed mid-file also uses up an attempt.
    """

    max_attempts: int = 8
    unexpected_max_attempts: int = 3
    backoff_base: float = 2.0
    backoff_cap: float = 300.0
    retry_delay: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.unexpected_max_attempts < 1:
            raise ValueError("attempt limits must be at least 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter is a fraction between 0 and 1")

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before attempt ``attempt + 1`` after a temporary failure."""
        rng = rng or random.Random()
        exponent = min(max(attempt - 1, 0), 62)  # avoid float overflow on silly attempt counts
        full = min(self.backoff_cap, self.backoff_base * 2.0**exponent)
        return full * (1.0 - self.jitter * rng.random())

    def exhausted(self, attempt: int) -> bool:
        """True when no attempt is left after ``attempt``."""
        return attempt >= self.max_attempts

    def decide(
        self, exc: BaseException | None, attempt: int, rng: random.Random | None = None
    ) -> Decision:
        """The decision after attempt ``attempt`` ended with ``exc`` (None: success)."""
        if exc is None:
            return Decision(Action.INGESTED)
        if isinstance(exc, NonFatalDoNotRetryError):
            return Decision(Action.ALREADY_ARCHIVED, reason=describe(exc))
        if isinstance(exc, DoNotRetryError | ProductError | MessageError | FileNotFoundError):
            return self._dead(exc, describe(exc))
        if isinstance(exc, BackoffRetryError):
            if self.exhausted(attempt):
                return self._dead(exc, f"gave up after {attempt} attempts: {describe(exc)}")
            delay = self.backoff(attempt, rng)
            if exc.retry_after is not None:
                delay = max(delay, min(float(exc.retry_after), self.backoff_cap))
            return Decision(
                Action.RETRY,
                delay=delay,
                reason=describe(exc),
                error_class=_qualname(exc),
                service_trouble=True,
            )
        if isinstance(exc, RetryError):
            if self.exhausted(attempt):
                return self._dead(exc, f"gave up after {attempt} attempts: {describe(exc)}")
            return Decision(
                Action.RETRY,
                delay=self.retry_delay,
                reason=describe(exc),
                error_class=_qualname(exc),
            )
        limit = min(self.unexpected_max_attempts, self.max_attempts)
        if attempt >= limit:
            return self._dead(
                exc, f"unexpected error, gave up after {attempt} attempts: {describe(exc)}"
            )
        return Decision(
            Action.RETRY,
            delay=self.backoff(attempt, rng),
            reason=f"unexpected error: {describe(exc)}",
            error_class=_qualname(exc),
            traceback=_format(exc),
        )

    def _dead(self, exc: BaseException, reason: str) -> Decision:
        return Decision(
            Action.DEAD, reason=reason, error_class=_qualname(exc), traceback=_format(exc)
        )
