"""The downstream example (examples/downstream_pipeline.py) against real RabbitMQ: it consumes
``archived_fits`` events, keeps calibration frames by frame id and fetches /frames/<id>/."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kombu import Connection, Exchange, Producer

from tests.conftest import require_service
from tests.ingester.test_flow_fixtures import AMQP_URL, REPO

FRAMES = {
    11: {"basename": "bias_fa14_20260114_bin1x1", "site_id": "cpt", "instrument_id": "fa14",
         "primary_optical_element": "rp", "observation_date": "2026-01-14T17:00:00Z"},
    12: {"basename": "cpt1m001-fa14-20260114-0006-e91", "site_id": "cpt",
         "instrument_id": "fa14", "primary_optical_element": "rp",
         "observation_date": "2026-01-14T17:28:00Z"},
    13: {"basename": "flat_fa14_20260114_SKYFLAT_bin1x1_rp", "site_id": "cpt",
         "instrument_id": "fa14", "primary_optical_element": "rp",
         "observation_date": "2026-01-14T16:50:00Z"},
}  # fmt: skip


def load_example():
    path = REPO / "examples" / "downstream_pipeline.py"
    spec = importlib.util.spec_from_file_location("downstream_pipeline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


class FramesAPI:
    """``GET /frames/<id>/`` of an archive, requiring the token, counting requests."""

    def __init__(self, token: str) -> None:
        self.requests: list[int] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = self.path.strip("/").split("/")
                status, body = 404, {"detail": "Not found."}
                if self.headers.get("Authorization") != f"Token {token}":
                    status, body = 401, {"detail": "Authentication credentials were not provided."}
                elif len(parts) == 2 and parts[0] == "frames" and int(parts[1]) in FRAMES:
                    frame_id = int(parts[1])
                    api.requests.append(frame_id)
                    status = 200
                    body = {"id": frame_id, **FRAMES[frame_id], "url": f"http://x/{frame_id}"}
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.api_root = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def event(frame_id: int, obstype: str) -> dict:
    """An ``archived_fits`` message: the headers plus frameid, basename, filename, ..."""
    frame = FRAMES[frame_id]
    return {
        "OBSTYPE": obstype,
        "SITEID": frame["site_id"],
        "INSTRUME": frame["instrument_id"],
        "FILTER": frame["primary_optical_element"],
        "CCDSUM": "1 1",
        "DAY-OBS": "20260114",
        "area": None,
        "basename": frame["basename"],
        "version_set": [{"key": "k", "md5": "0" * 32, "extension": ".fits.fz"}],
        "filename": frame["basename"] + ".fits.fz",
        "frameid": frame_id,
    }


@pytest.mark.rabbitmq
def test_the_downstream_pipeline_keeps_calibrations_by_frame_id(tmp_path):
    require_service("RabbitMQ", "127.0.0.1", 5672)
    example = load_example()
    suffix = uuid.uuid4().hex[:10]
    exchange_name, queue_name = f"test-archived-fits-{suffix}", f"test-downstream-{suffix}"
    api = FramesAPI(token="secret")
    store = example.CalibrationStore(str(tmp_path / "calibrations.sqlite3"))
    pipeline = example.Pipeline(
        AMQP_URL,
        example.ArchiveClient(api.api_root, "secret"),
        store,
        exchange=exchange_name,
        queue=queue_name,
    )
    try:
        pipeline.declare()  # the pipeline's durable queue exists before the archive publishes
        with Connection(AMQP_URL) as conn:
            producer = Producer(conn.default_channel)
            exchange = Exchange(exchange_name, type="fanout", durable=True)
            bodies = [
                json.dumps(event(11, "BIAS")),
                json.dumps(event(12, "EXPOSE")),  # not a calibration: ignored, no request
                "{broken json",  # dropped, never blocks the pipeline
                json.dumps(event(13, "SKYFLAT")),
                json.dumps(event(11, "BIAS")),  # redelivered/duplicate event: same row
            ]
            for body in bodies:
                producer.publish(body, exchange=exchange, routing_key="", delivery_mode=2,
                                 content_type="application/json", declare=[exchange])  # fmt: skip
        handled = pipeline.run(max_messages=len(bodies), idle_timeout=10)
        assert handled == len(bodies)
        assert api.requests == [11, 13, 11]  # one GET /frames/<id>/ per calibration event
        assert store.count() == 2
        bias = store.latest("BIAS", "fa14")
        assert (bias.frame_id, bias.basename, bias.is_master) == (
            11,
            "bias_fa14_20260114_bin1x1",
            True,
        )
        flat = store.latest("SKYFLAT", "fa14", "rp")
        assert flat.frame_id == 13
        assert store.latest("SKYFLAT", "fa14", "ip") is None
        assert store.latest("DARK", "fa14") is None
        # Everything was acknowledged or dropped: nothing waits in the pipeline's queue.
        with Connection(AMQP_URL) as conn:
            declared = conn.default_channel.queue_declare(queue_name, passive=True)
            assert declared.message_count == 0
    finally:
        with Connection(AMQP_URL) as conn:
            channel = conn.default_channel
            channel.queue_delete(queue_name)
            channel.exchange_delete(exchange_name)
        pipeline.close()
        store.close()
        api.close()
