"""The ingest message format: the seed's bare form, optional keys, validation."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from obsarchive.ingester.flow.errors import MessageError
from obsarchive.ingester.flow.messages import SCHEMA_VERSION, Message


def test_the_seed_message_is_valid_as_it_is():
    message = Message.from_json(b'{"filepath": "/path/to/file/on/disk.fits.fz"}')
    assert message.filepath == "/path/to/file/on/disk.fits.fz"
    assert message.schema_version == 1
    assert message.message_id is None
    assert message.basename == "disk.fits.fz"
    assert not message.is_thumbnail


def test_optional_keys_round_trip():
    original = Message(
        filepath="/data/x.pdf",
        message_id="abc",
        path="cptnrs03-fa13-20150219-0001-e92-summary.pdf",
        file_metadata={"SITEID": "cpt", "RLEVEL": 92, "EXPTIME": 1.5, "BLKUID": None},
        is_thumbnail=False,
        published_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    again = Message.from_json(original.to_json())
    assert again == original
    assert again.archive_name == "cptnrs03-fa13-20150219-0001-e92-summary.pdf"
    assert again.basename == "cptnrs03-fa13-20150219-0001-e92-summary.pdf"


def test_unknown_keys_are_tolerated_and_reported():
    message = Message.from_dict({"filepath": "/a/b.fits", "priority": 5, "x-site": "coj"})
    assert message.filepath == "/a/b.fits"
    assert message.extra_keys == ("priority", "x-site")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"{}", "no 'filepath'"),
        (b'{"filepath": ""}', "non-empty"),
        (b'{"filepath": 42}', "non-empty"),
        (b'{"filepath": "relative/x.fits"}', "absolute"),
        (b'{"filepath": "/a\\u0000b"}', "NUL"),
        (b'{"filepath": "/a", "schema_version": 2}', "newer"),
        (b'{"filepath": "/a", "schema_version": "1"}', "positive integer"),
        (b'{"filepath": "/a", "schema_version": true}', "positive integer"),
        (b'{"filepath": "/a", "file_metadata": [1]}', "object"),
        (b'{"filepath": "/a", "file_metadata": {"K": {"nested": 1}}}', "'K' is dict"),
        (b'{"filepath": "/a", "is_thumbnail": "yes"}', "true or false"),
        (b'{"filepath": "/a", "thumbnail_size": 3}', "thumbnail_size"),
        (b'{"filepath": "/a", "published_at": "yesterday"}', "ISO 8601"),
        (b'{"filepath": "/a", "message_id": ""}', "message_id"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(raw, fragment):
    with pytest.raises(MessageError) as info:
        Message.from_json(raw)
    assert fragment in str(info.value)


def test_naive_published_at_is_read_as_utc():
    message = Message.from_json(b'{"filepath": "/a", "published_at": "2024-01-01T00:00:00"}')
    assert message.published_at == datetime(2024, 1, 1, tzinfo=UTC)


def test_to_dict_always_states_the_schema_version():
    assert Message(filepath="/x.fits").to_dict() == {
        "schema_version": SCHEMA_VERSION,
        "filepath": "/x.fits",
    }


def test_a_huge_message_is_refused():
    raw = json.dumps({"filepath": "/a", "pad": "x" * (2 * 1024 * 1024)}).encode()
    with pytest.raises(MessageError, match="too large"):
        Message.from_json(raw)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_escape_as_anything_but_message_error(raw):
    with contextlib.suppress(MessageError):
        Message.from_json(raw)


@given(
    st.dictionaries(
        st.text(max_size=10),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
        max_size=5,
    )
)
def test_arbitrary_objects_never_escape_as_anything_but_message_error(body):
    body = {**body, "filepath": body.get("filepath", "/x")}
    with contextlib.suppress(MessageError):
        Message.from_dict(body)
