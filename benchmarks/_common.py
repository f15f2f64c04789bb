"""What every benchmark shares: results files, tables, machine facts, load and memory sampling."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS_DIR",
    "LoadMonitor",
    "RssSampler",
    "add_common_arguments",
    "latency_summary",
    "machine_info",
    "percentile",
    "print_table",
    "read_rss",
    "utc_now",
    "write_results",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
#: Bumped when the layout of the results JSON changes incompatibly.
RESULTS_FORMAT = 1


def utc_now() -> datetime:
    return datetime.now(UTC)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--tiny`` and ``--results-dir``, the same for every benchmark."""
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="a small run (a few hundred frames / a handful of files) finishing in seconds",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="where the JSON results go (default %(default)s)",
    )


# -- statistics ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    return float(ordered[low] + (ordered[high] - ordered[low]) * fraction)


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int]:
    """p50/p95/p99/mean/min/max in milliseconds of request latencies given in seconds."""
    if not seconds:
        return {"n": 0}
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(sum(ms) / len(ms), 3),
        "min_ms": round(min(ms), 3),
        "max_ms": round(max(ms), 3),
    }


# -- the machine -----------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def _memory_bytes() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    match = re.search(r"^MemTotal:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def _package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    """Output of a read-only git command in the repository, or None without git."""
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


def _git_commit() -> str | None:
    output = _git("rev-parse", "HEAD")
    return output.strip() or None if output is not None else None


def _git_modified() -> list[str] | None:
    """Tracked files changed since that commit: the code measured is not exactly the commit."""
    output = _git("diff", "--name-only", "HEAD")
    return None if output is None else [line for line in output.splitlines() if line]


def postgres_server_version(url: str) -> str | None:
    """``SELECT version()`` of the PostgreSQL server at ``url``, or None when unreachable."""
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=5) as connection:
            row = connection.execute("SHOW server_version").fetchone()
    except Exception:  # a version string is informative only; never fail a run for it
        return None
    return None if row is None else str(row[0])


def machine_info(database_url: str | None = None) -> dict[str, Any]:
    """The facts a reader needs to compare a result: cores, memory, CPU, software versions."""
    import sqlite3

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 0
    info: dict[str, Any] = {
        "hostname": platform.node(),
        "nproc": usable,
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_bytes": _memory_bytes(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "versions": {
            name: _package_version(name)
            for name in ("obsarchive", "Django", "djangorestframework", "psycopg", "numpy")
        },
        "git_commit": _git_commit(),
        "git_modified_files": _git_modified(),
    }
    if database_url and database_url.startswith(("postgres://", "postgresql://")):
        from benchmarks._services import libpq_url

        info["postgresql"] = postgres_server_version(libpq_url(database_url))
    return info


# -- load average ----------------------------------------------------------------------------


@dataclass
class LoadMonitor:
    """Samples the 1-minute load average while a benchmark runs (other people share the cores).

    Use as a context manager; :meth:`summary` gives the value before, the mean and the maximum.
    """

    interval: float = 5.0
    samples: list[float] = field(default_factory=list)
    before: float | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadMonitor:
        self.before = os.getloadavg()[0]
        self.samples.append(self.before)
        self._thread = threading.Thread(target=self._run, name="load-monitor", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict[str, float | None]:
        values = self.samples or [os.getloadavg()[0]]
        return {
            "before": self.before,
            "mean": round(sum(values) / len(values), 2),
            "max": round(max(values), 2),
            "after": round(values[-1], 2),
        }


# -- memory ----------------------------------------------------------------------------------


def read_rss(pid: int) -> int | None:
    """Resident set size of process ``pid`` in bytes (Linux ``/proc``), None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


class RssSampler:
    """Samples the RSS of some processes every ``interval`` seconds and keeps each one's peak.

    ``baseline`` (taken by :meth:`mark_baseline`) is each process's RSS when idle, so that the
    growth caused by the work measured is ``peak - baseline``.
    """

    def __init__(self, pids: Iterable[int], interval: float = 0.05) -> None:
        self.pids = list(pids)
        self.interval = interval
        self.peak: dict[int, int] = {}
        self.baseline: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def mark_baseline(self) -> None:
        for pid in self.pids:
            rss = read_rss(pid)
            if rss is not None:
                self.baseline[pid] = rss
                self.peak[pid] = max(self.peak.get(pid, 0), rss)

    def _sample(self) -> None:
        for pid in self.pids:
            rss = read_rss(pid)
            if rss is not None and rss > self.peak.get(pid, 0):
                self.peak[pid] = rss

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def summary(self) -> dict[str, float]:
        """Peak RSS and peak growth over the baseline, in MB, over all sampled processes."""
        peaks = [self.peak.get(pid, 0) for pid in self.pids]
        growth = [self.peak.get(pid, 0) - self.baseline.get(pid, 0) for pid in self.pids]
        mb = 1024 * 1024
        return {
            "peak_rss_mb": round(max(peaks, default=0) / mb, 1),
            "peak_growth_mb": round(max(growth, default=0) / mb, 1),
            "baseline_rss_mb": round(max(self.baseline.values(), default=0) / mb, 1),
        }


# -- output ----------------------------------------------------------------------------------


def write_results(name: str, payload: dict[str, Any], results_dir: Path = RESULTS_DIR) -> Path:
    """Write ``<results_dir>/<name>-<UTC timestamp>.json`` and return its path."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = utc_now().strftime("%Y%m%dT%H%M%S.%fZ")
    path = results_dir / f"{name}-{stamp}.json"
    document = {"benchmark": name, "format": RESULTS_FORMAT, **payload}
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    temporary.replace(path)  # a reader never sees half a file
    return path


def print_table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, caption: str = ""
) -> None:
    """Print a rich table to stdout (plain text when stdout is not a terminal)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, caption=caption or None, min_width=70)
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*("" if value is None else _cell(value) for value in row))
    Console(width=max(100, len(columns) * 14)).print(table)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def elapsed_since(start: float) -> float:
    return round(time.perf_counter() - start, 3)
