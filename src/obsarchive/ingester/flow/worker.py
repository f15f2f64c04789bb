"""The ingest worker: take a message, ingest its file, record the outcome, ack.

Ordering is what makes the flow safe under ``kill -9`` at any instruction:

1. ``ledger.begin`` counts the attempt *before* ingesting, so a message that kills workers
   is dead-lettered after ``max_attempts`` starts, even on queues that do not count.
2. The ingest function uploads and registers the frame; the archive refuses a second copy of
   an md5 (``NonFatalDoNotRetryError``), so re-running an interrupted ingest is harmless.
3. The ledger records the outcome, *then* the queue acks. A crash between the two leaves a
   delivered-again message whose ledger row already says ``ingested``: it is only acked.

A temporary failure (``BackoffRetryError``) delays the message *and* pauses the worker; with a
``probe`` (is the archive reachable?) the worker waits for the archive to answer before taking
more messages, so an outage does not burn every message's attempts. ``request_stop`` (SIGTERM)
lets the current file finish, then :meth:`Worker.run` returns.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from obsarchive.ingester.flow.errors import (
    FlowError,
    LedgerError,
    MessageError,
    QueueUnavailableError,
)
from obsarchive.ingester.flow.ledger import Ledger, Status
from obsarchive.ingester.flow.messages import Message
from obsarchive.ingester.flow.queues import Delivery, IngestQueue
from obsarchive.ingester.flow.retry import Action, Decision, RetryPolicy, describe

__all__ = ["IngestFunction", "Worker", "WorkerStats", "file_md5"]

logger = logging.getLogger(__name__)

IngestFunction = Callable[[BinaryIO, Message], Mapping[str, Any]]
"""Ingest one open product for one message; return the ingester response (``frameid``,
``version_set``), or raise one of the ingester's four exceptions."""

_CHUNK = 1024 * 1024


def file_md5(path: str) -> str:
    """Hex md5 of a file, read in 1 MiB chunks (constant memory)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _response_md5(response: Mapping[str, Any]) -> str | None:
    versions = response.get("version_set") or ()
    for version in versions:
        if isinstance(version, Mapping) and isinstance(version.get("md5"), str):
            return str(version["md5"])
    return None


def _response_frame_id(response: Mapping[str, Any]) -> int | None:
    for key in ("frameid", "id", "thumbnail_id"):
        value = response.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


@dataclass
class WorkerStats:
    """What one :meth:`Worker.run` did."""

    processed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.processed += 1
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class _Pause:
    """Exponential pause for trouble with a service (broker, ledger, archive)."""

    def __init__(self, initial: float, cap: float, rng: random.Random) -> None:
        self.initial, self.cap, self._rng = initial, cap, rng
        self._next = initial

    def next(self) -> float:
        delay = self._next * (0.5 + 0.5 * self._rng.random())
        self._next = min(self.cap, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self.initial


class _LeaseKeeper:
    """Extends a delivery's lease from a background thread while a long ingest runs."""

    def __init__(self, queue: IngestQueue, delivery: Delivery, lease: float) -> None:
        self._queue, self._delivery, self._lease = queue, delivery, lease
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def _run(self) -> None:
        while not self._done.wait(self._lease / 3):
            try:
                if not self._queue.extend(self._delivery, self._lease):
                    return
            except FlowError as exc:
                logger.warning(
                    "could not extend the lease of %s: %s", self._delivery.message_id, exc
                )

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


class Worker:
    """Consumes an :class:`~obsarchive.ingester.flow.queues.IngestQueue` until stopped.

    Parameters
    ----------
    queue, ledger
        Where messages come from and where outcomes are recorded.
    ingest
        The ingest function (the real one: :func:`archive_ingest`).
    policy
        Retry limits and delays.
    lease
        Seconds a message stays leased to this worker without a heartbeat (table queue).
    probe
        Returns True when the archive answers; consulted after a temporary failure before
        more messages are taken. None: just pause.
    service_pause_initial, service_pause_cap
        First and longest pause (seconds, doubling) while the archive, the queue or the
        ledger is in trouble.
    name
        For logs (default ``host:pid``).
    rng
        Source of jitter (seeded in tests).
    """

    def __init__(
        self,
        queue: IngestQueue,
        ledger: Ledger,
        ingest: IngestFunction,
        *,
        policy: RetryPolicy | None = None,
        lease: float = 120.0,
        poll_timeout: float = 1.0,
        probe: Callable[[], bool] | None = None,
        service_pause_initial: float = 0.5,
        service_pause_cap: float = 5.0,
        name: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.queue = queue
        self.ledger = ledger
        self.ingest = ingest
        self.policy = policy or RetryPolicy()
        self.lease = lease
        self.poll_timeout = poll_timeout
        self.probe = probe
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._service_pause = _Pause(service_pause_initial, service_pause_cap, self._rng)
        self._infra_pause = _Pause(service_pause_initial, service_pause_cap, self._rng)
        self._degraded = False

    # -- control -------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Finish the current file, then leave :meth:`run` (safe from a signal handler)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _wait(self, seconds: float) -> None:
        self._stop.wait(max(0.0, seconds))

    # -- main loop -----------------------------------------------------------------------------

    def run(
        self, *, max_messages: int | None = None, idle_exit: float | None = None
    ) -> WorkerStats:
        """Process messages until stopped, ``max_messages`` done or idle for ``idle_exit`` s."""
        stats = WorkerStats()
        idle_since = time.monotonic()
        logger.info("worker %s consuming queue %s", self.name, self.queue.name)
        try:
            while not self._stop.is_set():
                if self._degraded and not self._archive_ready():
                    continue
                try:
                    delivery = self.queue.get(self.lease, timeout=self.poll_timeout)
                except QueueUnavailableError as exc:
                    pause = self._infra_pause.next()
                    logger.warning("queue unavailable (%s); retrying in %.1f s", exc, pause)
                    self._wait(pause)
                    continue
                self._infra_pause.reset()
                if delivery is None:
                    if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                        break
                    continue
                outcome = self.process(delivery)
                stats.count(outcome)
                idle_since = time.monotonic()
                if max_messages is not None and stats.processed >= max_messages:
                    break
        finally:
            self.queue.close()
        logger.info("worker %s stopped after %d message(s)", self.name, stats.processed)
        return stats

    def _archive_ready(self) -> bool:
        """After a temporary failure: pause, then ask the probe whether to go on."""
        pause = self._service_pause.next()
        logger.info("archive or store in trouble; pausing %.1f s before the next message", pause)
        self._wait(pause)
        if self._stop.is_set():
            return False
        if self.probe is not None:
            try:
                ok = bool(self.probe())
            except Exception:  # a probe that crashes must not kill the worker
                logger.exception("archive probe failed")
                ok = False
            if not ok:
                return False
        self._degraded = False
        self._service_pause.reset()
        return True

    # -- one message ---------------------------------------------------------------------------

    def process(self, delivery: Delivery) -> str:
        """Handle one delivery completely; return the outcome name (for stats and tests)."""
        try:
            return self._process(delivery)
        except QueueUnavailableError as exc:
            # The ack/retry did not reach the queue: it will hand the message out again and the
            # ledger turns that into a plain ack.
            logger.warning("queue failed while finishing %s: %s", delivery.message_id, exc)
            self._wait(self._infra_pause.next())
            return "queue_error"

    def _process(self, delivery: Delivery) -> str:
        log_extra = {"message_id": delivery.message_id}
        try:
            message = Message.from_json(delivery.body)
        except MessageError as exc:
            decision = self.policy.decide(exc, delivery.attempts)
            logger.error("bad message %s: %s", delivery.message_id, exc, extra=log_extra)
            try:
                self._record_dead(delivery, decision, None)
            except LedgerError as ledger_exc:
                return self._ledger_down(delivery, ledger_exc)
            self.queue.dead_letter(
                delivery, decision.reason, decision.error_class, decision.traceback
            )
            return Action.DEAD.value
        log_extra["basename"] = message.basename
        if message.extra_keys:  # a newer producer's optional keys: tolerated by design
            logger.debug("message %s: ignoring unknown keys %s", delivery.message_id,
                         ", ".join(message.extra_keys))  # fmt: skip

        try:
            previous, attempt = self.ledger.begin(delivery.message_id, message, delivery.body)
        except LedgerError as exc:
            return self._ledger_down(delivery, exc)
        attempt = max(attempt, delivery.attempts)
        if previous.is_final_success:
            logger.info("%s was already %s; acking the duplicate delivery", message.basename,
                        previous, extra=log_extra)  # fmt: skip
            self.queue.ack(delivery)
            return "duplicate"
        if attempt > self.policy.max_attempts:
            decision = Decision(
                Action.DEAD,
                reason=f"gave up after {attempt - 1} attempts that never finished "
                "(the worker died or lost its lease each time)",
                error_class="obsarchive.ingester.flow.AttemptsExhausted",
            )
            return self._apply(delivery, message, decision, None)

        logger.info("ingesting %s (attempt %d)", message.filepath, attempt, extra=log_extra)
        started = time.monotonic()
        response: Mapping[str, Any] | None = None
        error: BaseException | None = None
        try:
            with (
                open(message.filepath, "rb") as fileobj,
                _LeaseKeeper(self.queue, delivery, self.lease),
            ):
                response = self.ingest(fileobj, message)
        except Exception as exc:  # noqa: BLE001  # process edge: every failure is classified below
            error = exc
        decision = self.policy.decide(error, attempt, self._rng)
        retry = decision.action == Action.RETRY
        then = f", next attempt in {decision.delay:.1f} s" if retry else ""
        logger.log(
            logging.INFO if decision.action != Action.DEAD else logging.ERROR,
            "%s: %s (%.2f s%s)%s",
            message.basename,
            decision.action,
            time.monotonic() - started,
            then,
            f": {decision.reason}" if decision.reason else "",
            extra=log_extra,
        )
        return self._apply(delivery, message, decision, response)

    def _apply(
        self,
        delivery: Delivery,
        message: Message,
        decision: Decision,
        response: Mapping[str, Any] | None,
    ) -> str:
        try:
            if decision.action == Action.INGESTED:
                assert response is not None
                md5 = _response_md5(response) or self._md5_or_none(message)
                self.ledger.finish(
                    delivery.message_id,
                    Status.INGESTED,
                    md5=md5,
                    frame_id=_response_frame_id(response),
                )
                self.queue.ack(delivery)
            elif decision.action == Action.ALREADY_ARCHIVED:
                self.ledger.finish(
                    delivery.message_id, Status.ALREADY_ARCHIVED, md5=self._md5_or_none(message)
                )
                self.queue.ack(delivery)
            elif decision.action == Action.RETRY:
                self.ledger.mark_retrying(
                    delivery.message_id,
                    decision.reason,
                    decision.error_class,
                    datetime.now(UTC) + timedelta(seconds=decision.delay),
                )
                self.queue.retry_later(delivery, decision.delay, decision.reason)
                if decision.service_trouble:
                    self._degraded = True
            else:
                self._record_dead(delivery, decision, message)
                self.queue.dead_letter(
                    delivery, decision.reason, decision.error_class, decision.traceback
                )
        except LedgerError as exc:
            return self._ledger_down(delivery, exc)
        return decision.action.value

    def _record_dead(self, delivery: Delivery, decision: Decision, message: Message | None) -> None:
        self.ledger.mark_dead(
            delivery.message_id,
            decision.reason,
            decision.error_class,
            decision.traceback,
            body=delivery.body,
        )

    def _ledger_down(self, delivery: Delivery, exc: LedgerError) -> str:
        """The ledger cannot be written: give the message back and pause.

        Acking without a ledger row would lose the record of the message, so it goes back to
        the queue (shortly) and is handled again once the ledger answers.
        """
        pause = self._infra_pause.next()
        logger.error("ledger unavailable (%s); message %s goes back to the queue",
                     exc, delivery.message_id)  # fmt: skip
        self.queue.retry_later(delivery, pause, f"ledger unavailable: {describe(exc)}")
        self._wait(pause)
        return "ledger_error"

    @staticmethod
    def _md5_or_none(message: Message) -> str | None:
        try:
            return file_md5(message.filepath)
        except OSError:
            return None
