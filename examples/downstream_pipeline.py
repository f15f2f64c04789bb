"""A downstream pipeline that keeps its own record of calibration frames.

This is the pattern the OCS data-flow document recommends for a reduction pipeline: instead
of searching the science archive with expensive filters each time it needs a bias, a dark or
a flat, the pipeline listens to the archive's ``archived_fits`` fan-out exchange (one message
per ingested frame: the FITS headers plus ``frameid``, ``basename``, ``filename``,
``version_set`` and ``area``), keeps the calibration frames it cares about in its own small
database *by archive frame id*, and later fetches exactly ``GET /frames/<id>/`` to use one.

Run it next to an archive that publishes events (``obsarchive serve`` with
``QUEUE_BROKER_URL`` set, then ``obsarchive events``)::

    python examples/downstream_pipeline.py \\
        --broker amqp://guest:guest@127.0.0.1:5672// \\
        --api-root http://127.0.0.1:8000/ --token "$(cat var/token)" \\
        --db calibrations.sqlite3

The pipeline's queue is durable and named (``--queue``), so frames archived while it is down
wait for it; a message is acknowledged only after its row is written, and the row is keyed by
frame id, so a redelivered message changes nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import time
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from kombu import Connection, Consumer, Exchange, Queue
from kombu.message import Message

logger = logging.getLogger("downstream_pipeline")

CALIBRATION_TYPES = ("BIAS", "DARK", "SKYFLAT", "LAMPFLAT")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calibration_frames (
    frame_id INTEGER PRIMARY KEY,      -- the science archive's frame id
    basename TEXT NOT NULL,
    obstype TEXT NOT NULL,
    site_id TEXT,
    telescope_id TEXT,
    instrument_id TEXT,
    filter TEXT,
    binning TEXT,
    day_obs TEXT,
    observation_date TEXT,
    is_master INTEGER NOT NULL,         -- a pipeline product (bias_*, flat_*) or a raw exposure
    received_at TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class Calibration:
    """One calibration frame this pipeline knows about."""

    frame_id: int
    basename: str
    obstype: str
    instrument_id: str | None
    filter: str | None
    day_obs: str | None
    is_master: bool


class CalibrationStore:
    """The pipeline's own table of calibration frames, keyed by archive frame id."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute(_SCHEMA)
        self.db.commit()

    def close(self) -> None:
        self.db.close()

    def remember(self, frame_id: int, headers: Mapping[str, Any], frame: Mapping[str, Any]) -> None:
        """Insert or refresh one frame (idempotent: the frame id is the key)."""
        basename = str(frame.get("basename") or headers.get("basename"))
        with self.db:
            self.db.execute(
                "INSERT INTO calibration_frames (frame_id, basename, obstype, site_id, "
                "telescope_id, instrument_id, filter, binning, day_obs, observation_date, "
                "is_master, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (frame_id) DO UPDATE SET basename = excluded.basename, "
                "observation_date = excluded.observation_date",
                (
                    frame_id,
                    basename,
                    str(headers.get("OBSTYPE")),
                    frame.get("site_id") or headers.get("SITEID"),
                    frame.get("telescope_id") or headers.get("TELID"),
                    frame.get("instrument_id") or headers.get("INSTRUME"),
                    frame.get("primary_optical_element") or headers.get("FILTER"),
                    headers.get("CCDSUM"),
                    headers.get("DAY-OBS"),
                    frame.get("observation_date"),
                    int(basename.split("_", 1)[0] in ("bias", "dark", "flat")),
                    datetime.now(UTC).isoformat(),
                ),
            )

    def latest(
        self, obstype: str, instrument_id: str, filter: str | None = None, *, master: bool = True
    ) -> Calibration | None:
        """The most recent calibration of a type for an instrument (and filter)."""
        sql = (
            "SELECT frame_id, basename, obstype, instrument_id, filter, day_obs, is_master "
            "FROM calibration_frames WHERE obstype = ? AND instrument_id = ? AND is_master = ?"
        )
        params: list[Any] = [obstype, instrument_id, int(master)]
        if filter is not None:
            sql += " AND filter = ?"
            params.append(filter)
        sql += " ORDER BY day_obs DESC, frame_id DESC LIMIT 1"
        row = self.db.execute(sql, params).fetchone()
        if row is None:
            return None
        return Calibration(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]))

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM calibration_frames").fetchone()[0])


class ArchiveClient:
    """The two archive calls a pipeline needs: a frame by id, and its file."""

    def __init__(self, api_root: str, token: str | None, timeout: float = 30.0) -> None:
        self.api_root = api_root if api_root.endswith("/") else api_root + "/"
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Token {token}"
        self.timeout = timeout

    def frame(self, frame_id: int) -> dict[str, Any]:
        """``GET /frames/<id>/``: the frame record, with a download ``url``."""
        response = self.session.get(f"{self.api_root}frames/{frame_id}/", timeout=self.timeout)
        response.raise_for_status()
        return dict(response.json())

    def download(self, frame_id: int, destination: str) -> str:
        """Stream the frame's file to ``destination`` (never whole in memory)."""
        url = self.frame(frame_id)["url"]
        with self.session.get(url, stream=True, timeout=self.timeout) as response:
            response.raise_for_status()
            with open(destination, "wb") as out:
                for chunk in response.iter_content(1024 * 1024):
                    out.write(chunk)
        return destination


class Pipeline:
    """Consumes ``archived_fits`` events and records the calibration frames among them."""

    def __init__(
        self,
        broker_url: str,
        archive: ArchiveClient,
        store: CalibrationStore,
        *,
        exchange: str = "archived_fits",
        queue: str = "downstream_calibrations",
    ) -> None:
        self.connection = Connection(broker_url, connect_timeout=10)
        self.archive = archive
        self.store = store
        self.exchange = Exchange(exchange, type="fanout", durable=True)
        self.queue = Queue(queue, exchange=self.exchange, durable=True)
        self.handled = 0

    def declare(self) -> None:
        """Create the exchange, our durable queue and the binding (events are kept from now)."""
        self.queue.declare(channel=self.connection.default_channel)

    def handle(self, body: bytes) -> int | None:
        """Record one event; returns the frame id when it was a calibration frame."""
        event = json.loads(body)
        if not isinstance(event, dict) or "frameid" not in event:
            raise ValueError("not an archived_fits message (no frameid)")
        if str(event.get("OBSTYPE", "")).upper() not in CALIBRATION_TYPES:
            return None
        frame_id = int(event["frameid"])
        # The event carries the headers; the archive record adds what the archive decided
        # (observation date, url). One request by id: cheap for the archive.
        frame = self.archive.frame(frame_id)
        self.store.remember(frame_id, event, frame)
        logger.info("recorded %s %s as frame %d", event.get("OBSTYPE"), frame["basename"], frame_id)
        return frame_id

    def _on_message(self, message: Message) -> None:
        try:
            self.handle(message.body)
        except (ValueError, TypeError, json.JSONDecodeError) as exc:
            logger.error("dropping a malformed event: %s", exc)
            message.reject(requeue=False)  # a bad message would only come back
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status >= 500 or status == 429:
                self._later(message, exc)
            else:  # 404/403: not ours to see; retrying would not change the answer
                logger.error("the archive refused the frame of an event: %s", exc)
                message.reject(requeue=False)
        except requests.RequestException as exc:
            self._later(message, exc)
        else:
            message.ack()
        self.handled += 1

    @staticmethod
    def _later(message: Message, exc: Exception) -> None:
        logger.warning("archive unavailable (%s); the event will be redelivered", exc)
        time.sleep(2.0)  # do not spin on an archive that is down
        message.requeue()

    def run(self, *, max_messages: int | None = None, idle_timeout: float | None = None) -> int:
        """Consume until ``max_messages`` were handled or nothing came for ``idle_timeout``."""
        self.declare()
        with Consumer(
            self.connection.default_channel,
            queues=[self.queue],
            on_message=self._on_message,
            prefetch_count=10,
        ):
            while max_messages is None or self.handled < max_messages:
                try:
                    self.connection.drain_events(timeout=idle_timeout)
                except TimeoutError:
                    break
        return self.handled

    def close(self) -> None:
        self.connection.release()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--broker", default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("--api-root", default="http://127.0.0.1:8000/")
    parser.add_argument("--token", default=None, help="archive API token (private frames)")
    parser.add_argument("--db", default="calibrations.sqlite3")
    parser.add_argument("--exchange", default="archived_fits")
    parser.add_argument("--queue", default="downstream_calibrations")
    parser.add_argument("--max-messages", type=int, default=None)
    parser.add_argument("--idle-timeout", type=float, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with closing(CalibrationStore(args.db)) as store:
        pipeline = Pipeline(
            args.broker,
            ArchiveClient(args.api_root, args.token),
            store,
            exchange=args.exchange,
            queue=args.queue,
        )
        try:
            handled = pipeline.run(max_messages=args.max_messages, idle_timeout=args.idle_timeout)
        except KeyboardInterrupt:
            handled = pipeline.handled
        finally:
            pipeline.close()
        logger.info("handled %d events; %d calibration frames known", handled, store.count())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
