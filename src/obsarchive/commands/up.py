"""``obsarchive up``: the whole data flow on one machine, on embedded defaults.

Starts, as child processes on ``OBSARCHIVE_HOME`` (``./var`` by default): the science archive
(``obsarchive serve``), an ingest worker (``obsarchive worker``) and a watcher of
``$OBSARCHIVE_HOME/incoming`` (``obsarchive watch``). It creates an ``admin`` superuser, prints
its token and stores it in ``$OBSARCHIVE_HOME/token`` (where later ``obsarchive`` commands on the
same home find it), and on the first run fills the incoming folder with a simulated night, so
frames appear in ``/frames/`` within seconds. Ctrl-C or SIGTERM stops everything in order: the
watcher, then the worker (after its current file), then the web server.

With ``DATABASE_URL``, ``QUEUE_URL``/``LEDGER_URL`` and the S3 variables set, the same command
runs the same flow on PostgreSQL, RabbitMQ and S3.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

__all__ = ["add_arguments", "run"]

_SIMULATED_MARKER = ".simulated"
_READY_TIMEOUT = 180.0
_STOP_TIMEOUT = 40.0


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {port}")
    return port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (%(default)s)")
    parser.add_argument("--port", type=_port, default=8000, help="port (default %(default)s)")
    parser.add_argument(
        "--no-simulate",
        action="store_true",
        help="do not fill the incoming folder with a simulated night on the first run",
    )
    parser.add_argument(
        "--web-workers", type=int, default=2, metavar="N", help="web server processes (2)"
    )


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the child gets SIGTERM if `obsarchive up` dies (even by kill -9)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _Child:
    """One supervised child process, its output appended to ``logs/<name>.log``."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.next_start = 0.0

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603  (our own interpreter and arguments)
                [sys.executable, "-m", "obsarchive.cli", *self.argv],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own session: a terminal Ctrl-C reaches only `up`, which stops the children in
                # order (the worker must finish its file before the server goes away).
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"obsarchive up: {self.name} did not stop in {timeout:.0f} s; killing it",
                      file=sys.stderr)  # fmt: skip
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _wait_ready(url: str, server: _Child, stop: list[bool]) -> bool:
    import requests

    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline and not stop:
        if not server.running:
            return False
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.3)
    return False


def _create_token(env: dict[str, str], home: Path) -> str | None:
    """``obsarchive token admin --superuser`` (migrates the database first)."""
    result = subprocess.run(
        [sys.executable, "-m", "obsarchive.cli", "token", "admin", "--superuser"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    token = result.stdout.strip().splitlines()[-1].strip() if result.stdout.strip() else ""
    if result.returncode != 0 or not token:
        print(f"obsarchive up: could not create the admin token:\n{result.stderr}", file=sys.stderr)
        return None
    path = home / "token"
    partial = home / ".token.part"
    partial.write_text(token + "\n", encoding="utf-8")
    partial.chmod(0o600)
    partial.replace(path)
    return token


def _progress(ledger: Any) -> str | None:
    from obsarchive.ingester.flow.errors import FlowError

    try:
        counts = ledger.counts()
    except FlowError:
        return None
    waiting = sum(counts[s] for s in counts if s.value in ("queued", "ingesting", "retrying"))
    parts = [
        f"ingested {sum(n for s, n in counts.items() if s.value == 'ingested')}",
        f"already archived {sum(n for s, n in counts.items() if s.value == 'already_archived')}",
        f"dead {sum(n for s, n in counts.items() if s.value == 'dead')}",
        f"waiting {waiting}",
    ]
    return ", ".join(parts)


def run(args: argparse.Namespace) -> int:
    from obsarchive.cli import EXIT_FAILURE, EXIT_OK
    from obsarchive.config import load_settings
    from obsarchive.ingester.flow.runtime import open_ledger

    settings = load_settings()
    home = settings.home.resolve()
    incoming = home / "incoming"
    log_dir = home / "logs"
    for folder in (home, incoming, log_dir):
        folder.mkdir(parents=True, exist_ok=True)
    host = args.host
    netloc = f"[{host}]:{args.port}" if ":" in host else f"{host}:{args.port}"
    api_root = f"http://{netloc}/"

    env = dict(os.environ)
    env["OBSARCHIVE_HOME"] = str(home)
    out: IO[str] = sys.stdout
    print(f"obsarchive up: preparing {home} ...", file=out, flush=True)
    token = _create_token(env, home)
    if token is None:
        return EXIT_FAILURE
    child_env = {**env, "API_ROOT": api_root, "AUTH_TOKEN": token}
    # `up` writes products atomically (simulate renames them into place): a short settle
    # period is safe and makes the first frames appear quickly.
    child_env.setdefault("WATCH_SETTLE_SECONDS", "1")

    stop: list[bool] = []

    def on_signal(signum: int, frame: object) -> None:
        stop.append(True)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C: at once

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    server = _Child(
        "server",
        ["serve", "--host", host, "--port", str(args.port), "--workers", str(args.web_workers)],
        child_env,
        log_dir,
    )
    worker = _Child("worker", ["worker"], child_env, log_dir)
    watcher = _Child("watch", ["watch", str(incoming)], child_env, log_dir)
    simulator: _Child | None = None
    marker = home / _SIMULATED_MARKER
    if not args.no_simulate and not marker.exists():
        simulator = _Child("simulate", ["simulate", "--into", str(incoming)], child_env, log_dir)

    status = EXIT_OK
    ledger = open_ledger(settings)
    try:
        server.start()
        if not _wait_ready(api_root, server, stop):
            if stop:
                return EXIT_OK
            print(f"obsarchive up: the archive did not start; {server.log_path}:\n"
                  f"{server.tail()}", file=sys.stderr)  # fmt: skip
            return EXIT_FAILURE
        worker.start()
        watcher.start()
        if simulator is not None:
            simulator.start()
            marker.write_text("the first run of `obsarchive up` simulated a night\n")
        print(
            f"""
  obsarchive is up
    archive API     {api_root}
    frames          {api_root}frames/
    admin token     {token}   (saved in {home / "token"})
    incoming        {incoming}   (drop .fits/.fits.fz files here)
    logs            {log_dir}
    ledger          OBSARCHIVE_HOME={home} obsarchive ledger
  {"a simulated night is being written to incoming/ ..." if simulator else ""}
  Ctrl-C to stop.
""",
            file=out,
            flush=True,
        )
        last, last_time = None, 0.0
        while not stop:
            time.sleep(0.5)
            if not server.running:
                print(f"obsarchive up: the archive stopped unexpectedly:\n{server.tail()}",
                      file=sys.stderr)  # fmt: skip
                status = EXIT_FAILURE
                break
            for child in (worker, watcher):
                if not child.running and not stop:
                    _restart(child, out)
            if simulator is not None and not simulator.running:
                code = simulator.proc.returncode if simulator.proc else None
                if code:
                    print(f"obsarchive up: the simulator failed:\n{simulator.tail()}",
                          file=sys.stderr)  # fmt: skip
                simulator = None
            line = _progress(ledger)
            # One line when something changed, at most every 3 s (and always once settled).
            settled = line is not None and line.endswith("waiting 0")
            if line and line != last and (settled or time.monotonic() - last_time >= 3.0):
                print(f"  {time.strftime('%H:%M:%S')}  {line}", file=out, flush=True)
                last, last_time = line, time.monotonic()
    finally:
        print("obsarchive up: stopping ...", file=out, flush=True)
        for process in (simulator, watcher, worker, server):
            if process is not None:
                process.stop(_STOP_TIMEOUT)
        ledger.close()
    print("obsarchive up: stopped", file=out, flush=True)
    return status


def _restart(child: _Child, out: IO[str]) -> None:
    """Restart a crashed worker or watcher, backing off if it keeps crashing."""
    now = time.monotonic()
    if now < child.next_start:
        return
    code = child.proc.returncode if child.proc else None
    print(f"obsarchive up: {child.name} exited ({code}); restarting\n{child.tail(5)}", file=out,
          flush=True)  # fmt: skip
    child.restarts += 1
    child.next_start = now + min(30.0, 2.0**child.restarts)
    child.start()
