"""ArchiveService and obs_end_time_from_dict against a real local HTTP stub."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from obsarchive.ingester.archive import ArchiveService, obs_end_time_from_dict
from obsarchive.ingester.exceptions import BackoffRetryError, DoNotRetryError
from tests.ingester.stub_archive import Reply, stub_archive


@pytest.fixture
def stub():
    with stub_archive() as archive:
        yield archive


def test_version_exists_sends_md5_and_token(stub):
    stub.answer("GET", "/versions/", Reply(200, {"count": 1, "results": [{"md5": "abc"}]}))
    service = ArchiveService(stub.api_root, "T0KEN")
    assert service.version_exists("abc") is True
    (request,) = stub.seen("GET", "/versions/")
    assert request.query == {"md5": ["abc"]}
    assert request.headers["authorization"] == "Token T0KEN"


def test_version_exists_false_on_zero_count(stub):
    assert ArchiveService(stub.api_root, "t").version_exists("0" * 32) is False


def test_no_authorization_header_without_token(stub):
    ArchiveService(stub.api_root, "").version_exists("abc")
    (request,) = stub.seen("GET", "/versions/")
    assert "authorization" not in request.headers


def test_api_root_without_trailing_slash_still_reaches_versions(stub):
    service = ArchiveService(stub.api_root.rstrip("/"), "t")
    assert service.version_exists("abc") is False
    assert len(stub.seen("GET", "/versions/")) == 1


def test_post_frame_updates_and_returns_the_record(stub):
    service = ArchiveService(stub.api_root, "t")
    record = {"basename": "x-e00", "observation_date": "2021-10-10T20:00:00", "headers": {}}
    result = service.post_frame(record)
    assert result is record
    assert result["frameid"] == 1
    assert result["filename"] == "x-e00.fits.fz"
    assert result["url"].endswith("/download/1")
    (request,) = stub.seen("POST", "/frames/")
    assert request.json()["basename"] == "x-e00"
    assert request.headers["content-type"] == "application/json"


def test_post_frame_survives_aware_and_missing_dates(stub):
    service = ArchiveService(stub.api_root, "t")
    aware = {"basename": "a", "observation_date": "2021-10-10T20:00:00+00:00", "headers": {}}
    missing = {"basename": "b", "headers": {}}
    assert service.post_frame(aware)["frameid"] == 1
    assert service.post_frame(missing)["frameid"] == 2


def test_post_thumbnail_sets_only_thumbnail_id(stub):
    service = ArchiveService(stub.api_root, "t")
    result = service.post_thumbnail({"basename": "thumb", "headers": {}})
    assert result["thumbnail_id"] == 1
    assert "frameid" not in result and "url" not in result
    assert len(stub.seen("POST", "/thumbnails/")) == 1


def test_a_redirected_post_is_not_followed(stub):
    stub.answer("POST", "/frames/", Reply(301, "", {"Location": "/elsewhere/frames/"}))
    with pytest.raises(DoNotRetryError, match="redirected"):
        ArchiveService(stub.api_root, "t").post_frame({"basename": "x"})
    assert stub.seen("GET", "/elsewhere/frames/") == []


def test_retry_after_is_carried_on_429(stub):
    stub.answer("GET", "/versions/", Reply(429, {"detail": "slow down"}, {"Retry-After": "7"}))
    with pytest.raises(BackoffRetryError) as info:
        ArchiveService(stub.api_root, "t").version_exists("abc")
    assert info.value.retry_after == 7.0


def test_refusal_message_carries_the_archive_explanation(stub):
    stub.answer(
        "POST",
        "/frames/",
        Reply(400, {"version_set": [{"md5": ["version with this md5 already exists."]}]}),
    )
    with pytest.raises(DoNotRetryError, match="already exists") as info:
        ArchiveService(stub.api_root, "t").post_frame({"basename": "x"})
    assert "400" in str(info.value)


def test_nan_in_a_record_is_a_permanent_error_and_nothing_is_sent(stub):
    with pytest.raises(DoNotRetryError, match="JSON"):
        ArchiveService(stub.api_root, "t").post_frame({"basename": "x", "exposure_time": 1e999})
    assert stub.seen("POST", "/frames/") == []


def test_paginated_listing_follows_next_links(stub):
    second = f"{stub.api_root}versions/?limit=2&offset=2"
    stub.answer(
        "GET",
        "/versions/",
        lambda request: Reply(
            200,
            {"count": 3, "next": None, "results": [{"key": "c"}]}
            if request.query.get("offset") == ["2"]
            else {"count": 3, "next": second, "results": [{"key": "a"}, {"key": "b"}]},
        ),
    )
    keys = [v["key"] for v in ArchiveService(stub.api_root, "t").iter_versions(page_size=2)]
    assert keys == ["a", "b", "c"]


def test_one_session_serves_many_threads(stub):
    service = ArchiveService(stub.api_root, "shared")
    results: list[bool] = []

    def check() -> None:
        results.append(service.version_exists("abc"))

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [False] * 8
    assert ArchiveService(stub.api_root, "shared").session is service.session
    assert ArchiveService(stub.api_root, "other").session is not service.session


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, datetime(2021, 10, 10, 20, 0, tzinfo=UTC)),
        ({"exposure_time": 375}, datetime(2021, 10, 10, 20, 6, 15, tzinfo=UTC)),
        ({"headers": {"UTSTOP": "23:00:00"}}, datetime(2021, 10, 10, 23, 0, tzinfo=UTC)),
        ({"headers": {"UTSTOP": "04:00:00"}}, datetime(2021, 10, 11, 4, 0, tzinfo=UTC)),
    ],
)
def test_obs_end_time_from_dict(extra, expected):
    record = {"observation_date": "2021-10-10T20:00:00", **extra}
    assert obs_end_time_from_dict(record) == expected


def test_obs_end_time_handles_aware_dates_in_utc():
    record = {"observation_date": "2021-10-10T22:00:00+02:00", "exposure_time": 60}
    assert obs_end_time_from_dict(record) == datetime(2021, 10, 10, 20, 1, tzinfo=UTC)


def test_obs_end_time_uses_the_configured_key():
    record = {"observation_date": "2021-10-10T20:00:00", "headers": {"TEND": "21:30:00"}}
    assert obs_end_time_from_dict(record, "TEND") == datetime(2021, 10, 10, 21, 30, tzinfo=UTC)
