"""The public-date rules (checklist 31-33) and the Observation Portal lookup (checklist 32).

The portal tests talk HTTP to a real server on 127.0.0.1 (an ephemeral port).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from obsarchive.config import HeaderKeys, ProductSettings, PublicDatePolicy, load_settings
from obsarchive.products import (
    InvalidHeaderError,
    MissingHeadersError,
    ObservationPortal,
    ProductConfigurationError,
    ProposalLookupUnavailableError,
    open_product,
)
from obsarchive.products.public_date import parse_observation_date, public_date
from obsarchive.products.synthetic import write_fits

POLICY = PublicDatePolicy()
DATE = "2016-04-01T00:00:00+00:00"


def _headers(**overrides: Any) -> dict[str, Any]:
    return {"DATE-OBS": DATE, "OBSTYPE": "EXPOSE", "PROPID": "LCO2015"} | overrides


@pytest.mark.parametrize(
    ("headers", "basename", "expected"),
    [
        (_headers(), "x-e91", "2017-04-01T00:00:00+00:00"),
        (_headers(PROPID="LCOEPO2014B-010"), "x-e91", DATE),
        (_headers(PROPID="calibrate"), "x-e91", DATE),
        (_headers(PROPID="standard"), "x-e91", DATE),
        (_headers(PROPID="pointing"), "x-e91", DATE),
        (_headers(PROPID="LCOEngineering"), "x-e91", "3014-08-03T00:00:00+00:00"),
        (_headers(PROPID="EPO-LCOEngineering"), "x-e91", DATE),  # public is checked first
        (_headers(), "x-t00", "3014-08-03T00:00:00+00:00"),
        (_headers(), "x-x00", "3014-08-03T00:00:00+00:00"),
        (_headers(OBSTYPE="BIAS"), "x-x00", DATE),
        (_headers(OBSTYPE="DARK"), "x-e91", DATE),
        (_headers(OBSTYPE="SKYFLAT"), "x-e91", DATE),
        (_headers(OBSTYPE="EXPERIMENTAL"), "x-x00", DATE),
        (_headers(OBSTYPE="bias"), "x-e91", "2017-04-01T00:00:00+00:00"),  # exact match
        (_headers(L1PUBDAT="2015-01-01T00:00:00"), "x-t00", "2015-01-01T00:00:00"),
        (_headers(**{"DATE-OBS": "2016-04-01T00:00:00"}), "x-x00", "3014-08-03T00:00:00"),
        (
            _headers(**{"DATE-OBS": "2015-02-19T13:56:05.261"}),
            "x-e91",
            "2016-02-19T13:56:05.261000",
        ),
        (_headers(OBSTYPE="BIAS", **{"DATE-OBS": None}), "x-b00", None),
    ],
)
def test_environment_rules(headers: dict[str, Any], basename: str, expected: str | None) -> None:
    """Checklist 31."""
    assert public_date(POLICY, headers, basename) == expected


def test_policy_lists_and_period_are_inputs() -> None:
    policy = PublicDatePolicy(public_proposals=("EPOTHING",), days_until_public=30)
    assert public_date(policy, _headers(PROPID="EPOTHING"), "x") == DATE
    assert public_date(policy, _headers(PROPID="calibrate"), "x") == "2016-05-01T00:00:00+00:00"


def test_header_keys_are_configurable() -> None:
    keys = HeaderKeys(observation_date="DATE", proposal_id="PROPOSAL", public_date="PUBDATE")
    headers = {"DATE": DATE, "PROPOSAL": "LCO2015", "OBSTYPE": "EXPOSE"}
    assert public_date(POLICY, headers, "x", keys=keys) == "2017-04-01T00:00:00+00:00"
    assert public_date(POLICY, headers | {"PUBDATE": "2020"}, "x", keys=keys) == "2020"


@pytest.mark.parametrize(
    ("tags", "headers", "expected"),
    [
        (["private"], _headers(PROPID="EPOTHING"), "3014-08-03T00:00:00+00:00"),
        (["internal", "public"], _headers(), "3014-08-03T00:00:00+00:00"),
        (["public"], _headers(), DATE),
        (["public"], _headers(PROPID="LCOEngineering"), DATE),
        (["foo"], _headers(), "2017-04-01T00:00:00+00:00"),
        ([], _headers(PROPID="calibrate"), DATE),
    ],
)
def test_proposal_tags_take_precedence(
    tags: list[str], headers: dict[str, Any], expected: str
) -> None:
    policy = PublicDatePolicy(public_proposals=("EPOTHING", "calib"))
    assert public_date(policy, headers, "x-e91", tags) == expected


def test_missing_date_when_a_date_must_be_computed() -> None:
    with pytest.raises(MissingHeadersError, match="DATE-OBS is missing") as caught:
        public_date(POLICY, {"PROPID": "LCO2015"}, "cpt1m0-e91")
    assert "cpt1m0-e91" in str(caught.value)


@pytest.mark.parametrize("value", ["garbage", "10", "2015-13-45T00:00:00", 17])
def test_unparsable_date(value: object) -> None:
    with pytest.raises(InvalidHeaderError, match="DATE-OBS"):
        public_date(POLICY, _headers(**{"DATE-OBS": value}), "x")


def test_parse_observation_date() -> None:
    assert parse_observation_date("2015-02-19T13:56:05.261").microsecond == 261000
    assert parse_observation_date("2016-04-01T00:00:00Z").utcoffset() is not None
    with pytest.raises(ValueError):
        parse_observation_date(None)


# -- the Observation Portal over real HTTP -------------------------------------------------


@dataclass
class Portal:
    base_url: str
    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)  # (path, authorization)
    delay: float = 0.0


@pytest.fixture
def portal() -> Iterator[Portal]:
    state = Portal(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.seen.append((self.path, self.headers.get("Authorization", "")))
            if state.delay:
                time.sleep(state.delay)
            status, body = state.answers.get(self.path, (404, {"detail": "Not found."}))
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _settings(base_url: str, token: str = "s3cret", timeout: float = 5.0) -> ProductSettings:
    environ = {
        "OBSERVATION_PORTAL_BASE_URL": base_url,
        "OBSERVATION_PORTAL_API_TOKEN": token,
        "OBSERVATION_PORTAL_TIMEOUT": str(timeout),
        "PUBLIC_PROPOSALS": "EPOTHING",
    }
    return load_settings(environ).products


def test_portal_tags_make_a_public_proposal_private(portal: Portal, tmp_path: Path) -> None:
    """Checklist 32: GET /api/proposals/<PROPID> with the token; 'private' wins."""
    portal.answers["/api/proposals/EPOTHING"] = (200, {"id": "EPOTHING", "tags": ["private"]})
    path = write_fits(tmp_path, proposal_id="EPOTHING", date_obs=parse_observation_date(DATE))
    record = open_product(path, settings=_settings(portal.base_url)).record()
    assert record.public_date == "3014-08-03T00:00:00"
    assert portal.seen == [("/api/proposals/EPOTHING", "Token s3cret")]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ((200, {"tags": ["public"]}), "2016-04-01T00:00:00.000"),
        ((200, {"tags": ["foo"]}), "2017-04-01T00:00:00"),
        ((500, {"detail": "boom"}), "2017-04-01T00:00:00"),
        ((404, {"detail": "Not found."}), "2017-04-01T00:00:00"),
        ((200, {"no": "tags"}), "2017-04-01T00:00:00"),
        ((200, b"<html>not json"), "2017-04-01T00:00:00"),
    ],
)
def test_portal_answers(
    portal: Portal, tmp_path: Path, answer: tuple[int, Any], expected: str
) -> None:
    portal.answers["/api/proposals/LCO2015"] = answer
    path = write_fits(tmp_path, proposal_id="LCO2015", date_obs=parse_observation_date(DATE))
    record = open_product(path, settings=_settings(portal.base_url)).record()
    assert record.public_date == expected
    assert len(portal.seen) == 1  # at most one lookup per product


def test_portal_is_not_asked_when_the_header_has_a_public_date(
    portal: Portal, tmp_path: Path
) -> None:
    path = write_fits(tmp_path, public_date="2016-01-01T00:00:00")
    record = open_product(path, settings=_settings(portal.base_url)).record()
    assert record.public_date == "2016-01-01T00:00:00"
    assert portal.seen == []


def test_injected_lookup_is_used_once(tmp_path: Path) -> None:
    calls: list[str] = []

    def lookup(proposal_id: str) -> list[str]:
        calls.append(proposal_id)
        return ["public"]

    path = write_fits(tmp_path, proposal_id="LCO2026A-001")
    record = open_product(path, proposal_tags=lookup).record()
    assert calls == ["LCO2026A-001"]
    assert record.public_date == record.observation_date


def test_proposal_id_is_escaped_in_the_url(portal: Portal) -> None:
    client = ObservationPortal(portal.base_url, "t", timeout=5)
    assert client.proposal_tags("../../admin?x=1") is None
    assert portal.seen[0][0] == "/api/proposals/..%2F..%2Fadmin%3Fx%3D1"
    assert client.proposal_tags("") is None
    assert len(portal.seen) == 1
    client.close()


def test_refused_connection_is_transient(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = write_fits(tmp_path)
    with pytest.raises(ProposalLookupUnavailableError) as caught:
        open_product(path, settings=_settings(f"http://127.0.0.1:{port}/"))
    assert not isinstance(caught.value, ProductConfigurationError)


def test_timeout_is_transient(portal: Portal, tmp_path: Path) -> None:
    portal.delay = 1.0  # the portal would answer, but only after the client's timeout
    path = write_fits(tmp_path)
    with pytest.raises(ProposalLookupUnavailableError):
        open_product(path, settings=_settings(portal.base_url, timeout=0.2))


def test_malformed_portal_url_is_a_configuration_error(tmp_path: Path) -> None:
    settings = ProductSettings(
        public_date=PublicDatePolicy(
            observation_portal_base_url="not a url", observation_portal_api_token="t"
        )
    )
    path = write_fits(tmp_path)
    with pytest.raises(ProductConfigurationError) as caught:
        open_product(path, settings=settings)
    assert path.name in str(caught.value)
