"""``obsarchive watch DIR``: publish each new product once it is completely written.

"Completely written" is decided by polling, which works on every file system (NFS and CIFS
included, where inotify sees nothing): a file is published when its size and modification time
have not changed for ``settle`` seconds *and* its modification time is at least ``settle``
seconds old. Hidden files (``.name``, the usual temporary name of an atomic write) and empty
files are never published.

What was published — path, size, mtime — is remembered in the ledger database, so a restarted
watcher publishes neither twice nor misses what arrived while it was down. A file rewritten in
place (new size or mtime) is published again: it is a new version of the product.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from obsarchive.ingester.flow.errors import FlowError
from obsarchive.ingester.flow.ledger import Ledger
from obsarchive.ingester.flow.publish import Publisher

__all__ = ["DEFAULT_PATTERNS", "Watcher"]

logger = logging.getLogger(__name__)

DEFAULT_PATTERNS: tuple[str, ...] = ("*.fits", "*.fits.fz", "*.tar.gz")
"""Products that carry their own headers; PDFs and thumbnails need metadata (publish them)."""


class Watcher:
    """Publishes settled files under ``directory``.

    Parameters
    ----------
    directory
        Folder to watch (recursively).
    publisher
        Publishes each settled file.
    ledger
        Remembers what was published.
    settle
        Seconds a file must stay unchanged (and old) before it is published.
    interval
        Seconds between scans.
    patterns
        Shell patterns of file names to publish.
    clock, wall_clock
        Monotonic and epoch seconds; injectable for tests.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        publisher: Publisher,
        ledger: Ledger,
        *,
        settle: float = 2.0,
        interval: float = 1.0,
        patterns: Sequence[str] = DEFAULT_PATTERNS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory).expanduser().absolute()
        self.publisher = publisher
        self.ledger = ledger
        self.settle = settle
        self.interval = interval
        self.patterns = tuple(patterns)
        self._clock = clock
        self._wall_clock = wall_clock
        self._stop = threading.Event()
        self._known: dict[str, tuple[int, int]] | None = None
        self._pending: dict[str, tuple[int, int, float]] = {}

    @property
    def pending(self) -> int:
        """Files seen but not yet settled (and so not yet published)."""
        return len(self._pending)

    def request_stop(self) -> None:
        """Stop after the current scan (safe from a signal handler)."""
        self._stop.set()

    def _matches(self, name: str) -> bool:
        return not name.startswith(".") and any(fnmatch.fnmatch(name, p) for p in self.patterns)

    def _walk(self) -> Iterator[tuple[str, os.stat_result]]:
        stack = [str(self.directory)]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError as exc:  # vanished or unreadable folder: try again next scan
                logger.debug("cannot list %s: %s", folder, exc)
                continue
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if not entry.name.startswith("."):
                            stack.append(entry.path)
                    elif entry.is_file() and self._matches(entry.name):
                        yield entry.path, entry.stat()
                except OSError:  # removed between listing and stat
                    continue

    def scan_once(self) -> list[str]:
        """One pass: note new or changed files, publish settled ones; return those published."""
        if self._known is None:
            self._known = self.ledger.watched_files(str(self.directory))
        now, wall = self._clock(), self._wall_clock()
        published: list[str] = []
        seen: set[str] = set()
        for path, st in self._walk():
            seen.add(path)
            signature = (st.st_size, st.st_mtime_ns)
            if self._known.get(path) == signature or st.st_size == 0:
                continue
            pending = self._pending.get(path)
            if pending is None or pending[:2] != signature:
                self._pending[path] = (*signature, now)
                continue
            stable_for = now - pending[2]
            age = wall - st.st_mtime_ns / 1e9
            if stable_for < self.settle or age < self.settle:
                continue
            try:
                message_id = self.publisher.publish(path)
                self.ledger.remember_watched_file(path, st.st_size, st.st_mtime_ns, message_id)
            except FlowError as exc:
                # Queue or ledger down: the file stays pending and is tried again next scan.
                # (Published but not remembered means one duplicate after a restart, which the
                # ingester's md5 check turns into "already archived".)
                logger.warning("could not publish %s yet: %s", path, exc)
                continue
            self._known[path] = signature
            del self._pending[path]
            published.append(path)
        for gone in set(self._pending) - seen:
            del self._pending[gone]
        return published

    def run(self) -> int:
        """Scan every ``interval`` seconds until stopped; return the number published."""
        self.directory.mkdir(parents=True, exist_ok=True)
        logger.info("watching %s for %s", self.directory, ", ".join(self.patterns))
        total = 0
        while not self._stop.is_set():
            try:
                total += len(self.scan_once())
            except FlowError as exc:
                logger.warning("scan failed: %s", exc)
            self._stop.wait(self.interval)
        return total
