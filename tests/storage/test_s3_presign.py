"""S3 presigned URLs: the store's own SigV4 signer gives exactly botocore's URLs, cheaper.

Signing is local, so these tests need no S3 server: a URL made by botocore at some moment is
compared with the one the store's signer makes for the same key at the same timestamp.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import boto3.session
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obsarchive.storage.base import InvalidKeyError, validate_key
from obsarchive.storage.s3 import S3Store, create_s3_client

SEGMENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
    min_size=1,
    max_size=12,
).filter(lambda segment: segment not in {".", ".."})
KEYS = st.lists(SEGMENT, min_size=1, max_size=4).map("/".join)
VERSIONS = st.one_of(st.none(), st.text(min_size=1, max_size=40).filter(lambda v: "\x00" not in v))


@functools.cache
def store_for(
    *, endpoint: str | None, style: str, region: str | None, token: str | None = None
) -> S3Store:
    """One store per configuration (creating a botocore client costs tens of milliseconds)."""
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        aws_session_token=token,
        region_name=region,
    )
    client = create_s3_client(
        endpoint_url=endpoint, region=region, addressing_style=style, session=session
    )
    return S3Store("archive-bucket", client=client)


CONFIGURATIONS = [
    {"endpoint": "http://127.0.0.1:9000", "style": "auto", "region": None},
    {"endpoint": "https://s3.example.org:8443", "style": "path", "region": "us-west-2"},
    {"endpoint": None, "style": "virtual", "region": "eu-central-1"},
    {"endpoint": None, "style": "path", "region": "us-east-1", "token": "FQoG/session+token=="},
]


def botocore_url(store: S3Store, key: str, version_id: str | None, seconds: int) -> str:
    params = {"Bucket": store.bucket, "Key": key}
    if version_id is not None:
        params["VersionId"] = version_id
    return store.client.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)


def timestamp_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["X-Amz-Date"][0]


@pytest.mark.parametrize("configuration", CONFIGURATIONS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=KEYS, version_id=VERSIONS, seconds=st.integers(1, 7 * 24 * 3600))
def test_local_signer_reproduces_botocore(
    configuration: dict, key: str, version_id: str | None, seconds: int
) -> None:
    try:
        validate_key(key)
    except InvalidKeyError:
        return
    store = store_for(**configuration)
    presigner = store._fast_presigner()
    assert presigner is not None
    expected = botocore_url(store, key, version_id, seconds)
    assert presigner.url(key, version_id, seconds, timestamp_of(expected)) == expected


def test_url_uses_the_local_signer_and_keeps_its_contract() -> None:
    store = store_for(**CONFIGURATIONS[0])
    before = datetime.now(UTC).replace(microsecond=0)
    url = store.url("a/b/c.fits.fz", "v-1", timedelta(hours=2))
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["7200"] and query["versionId"] == ["v-1"]
    signed_at = datetime.strptime(timestamp_of(url), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= signed_at <= datetime.now(UTC)
    # What botocore would have made at that second.
    presigner = store._fast_presigner()
    assert presigner is not None
    assert url == presigner.url("a/b/c.fits.fz", "v-1", 7200, timestamp_of(url))
    with pytest.raises(InvalidKeyError):
        store.url("/absolute", None)
    with pytest.raises(ValueError):
        store.url("a", None, timedelta(days=8))


def test_a_configuration_the_signer_does_not_cover_falls_back_to_botocore() -> None:
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1"
    )
    # Signature version 2 query signing: not SigV4, so botocore keeps signing.
    client = create_s3_client(signature_version="s3", session=session)
    store = S3Store("archive-bucket", client=client)
    url = store.url("a/b.fits", "v-1", timedelta(hours=1))
    assert store._fast_presigner() is None
    assert "Signature=" in url and "X-Amz-Signature" not in url


def test_signing_key_is_derived_once_per_day() -> None:
    store = store_for(**CONFIGURATIONS[0])
    presigner = store._fast_presigner()
    assert presigner is not None
    derived = len(presigner._keys)  # the probe's day
    for n in range(50):
        presigner.url(f"k/{n}", None, 60, "20200101T000000Z")
    presigner.url("k", None, 60, "20200102T000000Z")
    assert len(presigner._keys) == derived + 2
