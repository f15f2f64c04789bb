"""Reference §8 checklist items 75 to 86: ``POST /frames/zip/`` and the funpack/catalogue routes.

Each test is named after its checklist number (``test_c081_...`` is item 81). Items 75, 76, 81
and 82 describe upstream's nginx mod_zip manifest: they are asserted with ``ZIP_MODE=nginx``,
and the same behaviour is asserted of the default ``ZIP_MODE=stream``, where the archive sends
the zip itself. Where upstream is broken or unsafe the recommended (R) behaviour is asserted;
those deviations are rows of docs/compatibility.md ("downloads").

Frames are ingested through the real serializer and service, with their files in a real
filesystem store (``download_archive``); requests go through Django's test client.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import zipfile
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from astropy.io import fits

from obsarchive.server.accounts.services import profile_of, token_for
from obsarchive.server.downloads.config import load_download_settings
from obsarchive.server.frames.models import Frame, Version
from tests.server.factories import FUTURE, PAST
from tests.server.test_downloads import assert_uncompressed_equal, body, e91_bytes, fz_bytes

DOWNLOAD_PROBLEM = (
    "There was a problem downloading your files. Please try again later or select fewer files."
)
NO_FRAME = {"detail": "No Frame matches the given query."}
MODES = ("nginx", "stream")
DISPOSITION = re.compile(r"^attachment; filename=(ocs_archive_data-(\d{8})-(\d+))\.zip$")
MANIFEST_LINE = re.compile(r"^- (\d+) (\S+) ([^/\s]+)/(\S+)$")


# -- helpers ------------------------------------------------------------------------------------


def use_mode(settings: Any, mode: str, **changes: Any) -> None:
    """Switch ``ZIP_MODE`` (and any other download setting) for the rest of the test."""
    settings.OBSARCHIVE_DOWNLOADS = dataclasses.replace(
        settings.OBSARCHIVE_DOWNLOADS, zip_mode=mode, **changes
    )


@dataclasses.dataclass(frozen=True)
class Line:
    """One parsed mod_zip manifest line."""

    size: int
    location: str
    directory: str
    name: str


@dataclasses.dataclass(frozen=True)
class Download:
    """What a client got from ``POST /frames/zip/``, in either mode."""

    directory: str  # the zip file name without ``.zip``
    count: int  # the ``<N>`` of the zip name
    names: dict[str, str]  # member name -> manifest location (stream mode: "")
    lines: list[Line]  # manifest lines (stream mode: none)
    contents: dict[str, bytes]  # member name -> bytes (stream mode: none)


def today_range(before: datetime) -> set[str]:
    # A request straddling midnight UTC may be named after either day.
    return {before.strftime("%Y%m%d"), datetime.now(UTC).strftime("%Y%m%d")}


def zip_download(client: Any, mode: str, payload: Any, **kwargs: Any) -> Download:
    """POST ``payload`` to /frames/zip/ and check the envelope common to both modes."""
    before = datetime.now(UTC)
    if "content_type" not in kwargs:
        kwargs["format"] = "json"
    response = client.post("/frames/zip/", payload, **kwargs)
    assert response.status_code == 200, response.content
    match = DISPOSITION.match(response["Content-Disposition"])
    assert match is not None, response["Content-Disposition"]
    directory, day, count = match.group(1), match.group(2), int(match.group(3))
    assert day in today_range(before)
    assert response.cookies["fileDownload"].value == "true"
    if mode == "nginx":
        assert response["Content-Type"].startswith("text/plain")
        assert response["X-Archive-Files"] == "zip"
        lines = []
        for text in response.content.decode().splitlines():
            parsed = MANIFEST_LINE.match(text)
            assert parsed is not None, text
            lines.append(
                Line(int(parsed.group(1)), parsed.group(2), parsed.group(3), parsed.group(4))
            )
        assert len(lines) == count
        return Download(
            directory=directory,
            count=count,
            names={line.name: line.location for line in lines},
            lines=lines,
            contents={},
        )
    assert response["Content-Type"] == "application/zip"
    assert not response.has_header("X-Archive-Files")
    archive = zipfile.ZipFile(io.BytesIO(body(response)))
    assert archive.testzip() is None
    contents = {}
    for name in archive.namelist():
        folder, _, member = name.partition("/")
        assert folder == directory, name
        contents[member] = archive.read(name)
    assert len(contents) == count
    return Download(
        directory=directory,
        count=count,
        names=dict.fromkeys(contents, ""),
        lines=[],
        contents=contents,
    )


def fetch(client: Any, location: str) -> Any:
    """What nginx's mod_zip sub-request for a manifest location gets from the archive."""
    parts = urlsplit(location)
    return client.get(f"{parts.path}?{parts.query}" if parts.query else parts.path)


def file_names(frames: dict[str, Frame], *keys: str, extension: str = ".fits.fz") -> set[str]:
    return {frames[key].basename + extension for key in keys}


@pytest.fixture
def frames(download_archive: Any, world: Any) -> dict[str, Frame]:
    """Public frames of two proposals; proprietary ones of PROP-A (alice's) and PROP-B."""
    return {
        "public": download_archive.add(fz_bytes(seed=1), proposal_id="PROP-B", public_date=PAST),
        "public_a": download_archive.add(fz_bytes(seed=2), proposal_id="PROP-A", public_date=PAST),
        "own": download_archive.add(fz_bytes(seed=3), proposal_id="PROP-A", public_date=FUTURE),
        "other": download_archive.add(fz_bytes(seed=4), proposal_id="PROP-B", public_date=FUTURE),
        "no_public_date": download_archive.add(
            fz_bytes(seed=5), proposal_id="PROP-B", public_date=None
        ),
    }


def all_ids(frames: dict[str, Frame]) -> list[int]:
    return [frame.pk for frame in frames.values()]


# -- zip download -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_c075_anonymous_zip_lists_only_public_frames(
    world: Any, frames: dict[str, Frame], settings: Any, mode: str
) -> None:
    use_mode(settings, mode)
    got = zip_download(world.anon, mode, {"frame_ids": all_ids(frames), "uncompress": "false"})
    assert set(got.names) == file_names(frames, "public", "public_a")
    assert got.count == 2
    hidden = [frames[key].basename for key in ("own", "other", "no_public_date")]
    if mode == "nginx":
        text = "\n".join(f"{line.location} {line.name}" for line in got.lines)
        assert not any(basename in text for basename in hidden)
    else:
        assert not any(basename in name for basename in hidden for name in got.contents)


@pytest.mark.parametrize("mode", MODES)
def test_c076_member_lines_are_size_location_and_folder_name(
    world: Any, frames: dict[str, Frame], settings: Any, mode: str
) -> None:
    use_mode(settings, mode)
    got = zip_download(world.su, mode, {"frame_ids": all_ids(frames)})
    assert set(got.names) == file_names(frames, *frames)
    by_name = {frames[key].basename + ".fits.fz": frames[key] for key in frames}
    if mode == "nginx":
        for line in got.lines:
            # `- <size> <location> <dirname>/<basename><ext>`, dirname = zip name minus `.zip`
            assert line.directory == got.directory
            fetched = fetch(world.anon, line.location)
            assert fetched.status_code == 200, line
            data = body(fetched)
            assert len(data) == line.size
            version = Version.objects.get(frame=by_name[line.name])
            assert hashlib.md5(data).hexdigest() == version.md5
    else:
        for name, data in got.contents.items():
            version = Version.objects.get(frame=by_name[name])
            assert hashlib.md5(data).hexdigest() == version.md5


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("token_kind", ["drf", "portal"])
def test_c077_auth_token_adds_own_proposal_frames_only(
    world: Any, frames: dict[str, Frame], settings: Any, mode: str, token_kind: str
) -> None:
    use_mode(settings, mode)
    if token_kind == "drf":
        token = token_for(world.member).key
    else:
        profile = profile_of(world.member)
        profile.api_token = "portal-api-token-of-alice"
        profile.save()
        token = "portal-api-token-of-alice"
    got = zip_download(world.anon, mode, {"frame_ids": all_ids(frames), "auth_token": token})
    assert set(got.names) == file_names(frames, "public", "public_a", "own")


@pytest.mark.parametrize("mode", MODES)
def test_c078_unknown_auth_token_is_404(
    world: Any, frames: dict[str, Frame], settings: Any, mode: str
) -> None:
    use_mode(settings, mode)
    response = world.anon.post(
        "/frames/zip/",
        {"frame_ids": [frames["public"].pk], "auth_token": "no-such-token"},
        format="json",
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "No Token matches the given query."}
    # The same request without the bad token succeeds: the token alone caused the 404.
    ok = world.anon.post("/frames/zip/", {"frame_ids": [frames["public"].pk]}, format="json")
    assert ok.status_code == 200


@pytest.mark.parametrize("mode", MODES)
def test_c079_only_invisible_ids_is_empty_404_and_missing_ids_is_400(
    world: Any, frames: dict[str, Frame], settings: Any, mode: str
) -> None:
    use_mode(settings, mode)
    hidden = [frames["own"].pk, frames["other"].pk, frames["no_public_date"].pk, 987654321]
    response = world.anon.post("/frames/zip/", {"frame_ids": hidden}, format="json")
    assert response.status_code == 404
    assert response.content == b""
    for payload, kwargs in (
        ({"uncompress": "false"}, {"format": "json"}),
        ({}, {"format": "json"}),
        (urlencode({"uncompress": "false"}), {"content_type": "application/x-www-form-urlencoded"}),
    ):
        response = world.anon.post("/frames/zip/", payload, **kwargs)
        assert response.status_code == 400, payload
        assert "frame_ids" in response.json()


@pytest.mark.parametrize("mode", MODES)
def test_c080_uncompress_has_no_cap_unless_configured(
    download_archive: Any, world: Any, settings: Any, mode: str
) -> None:
    # (R) upstream refuses more than 10 uncompressed files; obsarchive decompresses once,
    # streaming, so the cap is off by default and ZIP_DOWNLOAD_MAX_UNCOMPRESSED_FILES restores it.
    frames = [
        download_archive.add(fz_bytes(seed=seed, shape=(16, 24)), public_date=PAST)
        for seed in range(11)
    ]
    ids = [frame.pk for frame in frames]
    use_mode(settings, mode)
    got = zip_download(world.anon, mode, {"frame_ids": ids, "uncompress": True})
    assert set(got.names) == {frame.basename + ".fits" for frame in frames}

    capped = load_download_settings({"ZIP_MODE": mode, "ZIP_DOWNLOAD_MAX_UNCOMPRESSED_FILES": "10"})
    assert capped.zip_max_uncompressed_files == 10
    settings.OBSARCHIVE_DOWNLOADS = capped
    response = world.anon.post(
        "/frames/zip/", {"frame_ids": ids, "uncompress": True}, format="json"
    )
    assert response.status_code == 400
    message = (
        "A maximum of 10 frames can be downloaded with the uncompress flag. "
        "Please try again with fewer frame_ids."
    )
    assert message in response.content.decode()
    assert response.json() == {"non_field_errors": [message]}
    # The cap counts uncompressed zips only, and exactly 10 are allowed.
    at_cap = zip_download(world.anon, mode, {"frame_ids": ids[:10], "uncompress": True})
    assert at_cap.count == 10
    plain = zip_download(world.anon, mode, {"frame_ids": ids, "uncompress": False})
    assert set(plain.names) == {frame.basename + ".fits.fz" for frame in frames}


@pytest.mark.parametrize("mode", MODES)
def test_c081_uncompress_uses_the_funpack_route_and_fits_extension(
    download_archive: Any, world: Any, settings: Any, mode: str
) -> None:
    original = fz_bytes(seed=11, shape=(30, 40))
    packed = download_archive.add(original, proposal_id="PROP-A", public_date=FUTURE)
    plain_bytes = b"SIMPLE  =" + b" " * 2871
    plain = download_archive.add(plain_bytes, extension=".fits", public_date=PAST)
    use_mode(settings, mode)
    member = world.client(world.member)
    got = zip_download(member, mode, {"frame_ids": [packed.pk, plain.pk], "uncompress": "true"})
    assert set(got.names) == {packed.basename + ".fits", plain.basename + ".fits"}
    if mode == "nginx":
        lines = {line.name: line for line in got.lines}
        line = lines[packed.basename + ".fits"]
        assert urlsplit(line.location).path == f"/frame-funpack/{packed.pk}/funpack/"
        fetched = fetch(world.anon, line.location)  # nginx sub-request: no credentials
        assert fetched.status_code == 200
        data = body(fetched)
        assert len(data) == line.size
        assert_uncompressed_equal(original, data)
        # A file that is not fpacked is served as stored, not through the funpack route.
        stored = lines[plain.basename + ".fits"]
        assert urlsplit(stored.location).path.startswith("/download/")
        assert body(fetch(world.anon, stored.location)) == plain_bytes
    else:
        assert_uncompressed_equal(original, got.contents[packed.basename + ".fits"])
        assert got.contents[plain.basename + ".fits"] == plain_bytes


@pytest.mark.parametrize("mode", MODES)
def test_c082_catalog_only_uses_the_catalog_route_for_processed_exposures(
    download_archive: Any, world: Any, settings: Any, mode: str
) -> None:
    processed = download_archive.add(
        e91_bytes(seed=1), public_date=PAST, reduction_level=91, configuration_type="EXPOSE"
    )
    processed_bias = download_archive.add(
        e91_bytes(seed=2), public_date=PAST, reduction_level=91, configuration_type="BIAS"
    )
    raw = download_archive.add(fz_bytes(seed=3), public_date=PAST, reduction_level=0)
    use_mode(settings, mode)
    ids = [processed.pk, processed_bias.pk, raw.pk]
    got = zip_download(world.anon, mode, {"frame_ids": ids, "catalog_only": "true"})
    catalogue_name = processed.basename + "-catalog.fits"
    assert set(got.names) == {
        catalogue_name,
        processed_bias.basename + ".fits.fz",
        raw.basename + ".fits.fz",
    }
    if mode == "nginx":
        line = next(line for line in got.lines if line.name == catalogue_name)
        assert urlsplit(line.location).path == f"/frame-catalog/{processed.pk}/catalog/"
        fetched = fetch(world.anon, line.location)
        assert fetched.status_code == 200
        data = body(fetched)
        assert len(data) == line.size
        others = [line for line in got.lines if line.name != catalogue_name]
        assert all(urlsplit(line.location).path.startswith("/download/") for line in others)
    else:
        data = got.contents[catalogue_name]
    with fits.open(io.BytesIO(data)) as catalogue:
        assert [hdu.name for hdu in catalogue] == ["PRIMARY", "CAT"]
        assert len(catalogue["CAT"].data) == 12


@pytest.mark.parametrize("mode", MODES)
def test_c083_front_end_form_body_is_accepted(
    world: Any, frames: dict[str, Frame], settings: Any, mode: str
) -> None:
    use_mode(settings, mode)
    ids = [frames["own"].pk, frames["other"].pk, frames["public"].pk]
    form = [(f"frame_ids[{index}]", str(pk)) for index, pk in enumerate(ids)]
    form += [("auth_token", token_for(world.member).key), ("uncompress", "false")]
    got = zip_download(
        world.anon, mode, urlencode(form), content_type="application/x-www-form-urlencoded"
    )
    assert set(got.names) == file_names(frames, "own", "public")


@pytest.mark.parametrize("mode", MODES)
def test_c084_get_on_the_zip_route_is_405(world: Any, settings: Any, mode: str) -> None:
    use_mode(settings, mode)
    for client in (world.anon, world.su):
        response = client.get("/frames/zip/")
        assert response.status_code == 405
        assert response.json() == {"detail": 'Method "GET" not allowed.'}
        assert "POST" in response["Allow"]


# -- funpack / catalogue routes -----------------------------------------------------------------


def test_c085_funpack_route(download_archive: Any, world: Any, settings: Any) -> None:
    public_bytes = fz_bytes(seed=21, shape=(36, 52))
    public = download_archive.add(public_bytes, public_date=PAST)
    secret_bytes = fz_bytes(seed=22)
    secret = download_archive.add(secret_bytes, proposal_id="PROP-A", public_date=FUTURE)

    response = world.anon.get(f"/frame-funpack/{public.pk}/funpack/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    data = body(response)
    assert response["Content-Length"] == str(len(data))
    assert_uncompressed_equal(public_bytes, data)

    # (R) upstream serves proprietary data to anyone; here a direct request is visibility-checked.
    for client in (world.anon, world.client(world.stranger)):
        refused = client.get(f"/frame-funpack/{secret.pk}/funpack/")
        assert refused.status_code == 404 and refused.json() == NO_FRAME
    own = world.client(world.member).get(f"/frame-funpack/{secret.pk}/funpack/")
    assert own.status_code == 200
    assert_uncompressed_equal(secret_bytes, body(own))

    # ... while a zip that uses the route keeps working: the member's manifest names it with
    # a signature, and nginx's credential-less sub-request is served.
    use_mode(settings, "nginx")
    got = zip_download(
        world.client(world.member), "nginx", {"frame_ids": [secret.pk], "uncompress": True}
    )
    (line,) = got.lines
    assert urlsplit(line.location).path == f"/frame-funpack/{secret.pk}/funpack/"
    assert_uncompressed_equal(secret_bytes, body(fetch(world.anon, line.location)))

    broken = download_archive.add(b"SIMPLE  = garbage" * 300, public_date=PAST)
    failed = world.anon.get(f"/frame-funpack/{broken.pk}/funpack/")
    assert failed.status_code == 500
    assert failed.json() == {"detail": DOWNLOAD_PROBLEM}

    for unknown in ("987654321", "abc", "0"):
        assert world.anon.get(f"/frame-funpack/{unknown}/funpack/").status_code == 404


def test_c086_catalog_route(download_archive: Any, world: Any, settings: Any) -> None:
    public_bytes = e91_bytes(seed=31)
    public = download_archive.add(public_bytes, public_date=PAST, reduction_level=91)
    secret = download_archive.add(
        e91_bytes(seed=32), proposal_id="PROP-A", public_date=FUTURE, reduction_level=91
    )

    response = world.anon.get(f"/frame-catalog/{public.pk}/catalog/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == (
        f"attachment; filename={public.basename}-catalog.fits"
    )
    data = body(response)
    assert response["Content-Length"] == str(len(data))
    with fits.open(io.BytesIO(public_bytes)) as source, fits.open(io.BytesIO(data)) as result:
        assert [hdu.name for hdu in result] == ["PRIMARY", "CAT"]
        assert result[0].header["OBJECT"] == source["SCI"].header["OBJECT"]
        assert result["CAT"].data.tobytes() == source["CAT"].data.tobytes()

    # (R) visibility-checked when requested directly, as item 85.
    for client in (world.anon, world.client(world.stranger)):
        refused = client.get(f"/frame-catalog/{secret.pk}/catalog/")
        assert refused.status_code == 404 and refused.json() == NO_FRAME
    own = world.client(world.member).get(f"/frame-catalog/{secret.pk}/catalog/")
    assert own.status_code == 200
    assert own["Content-Disposition"] == f"attachment; filename={secret.basename}-catalog.fits"

    use_mode(settings, "nginx")
    got = zip_download(
        world.client(world.member), "nginx", {"frame_ids": [secret.pk], "catalog_only": True}
    )
    (line,) = got.lines
    assert urlsplit(line.location).path == f"/frame-catalog/{secret.pk}/catalog/"
    fetched = fetch(world.anon, line.location)
    assert fetched.status_code == 200 and len(body(fetched)) == line.size

    without = download_archive.add(
        e91_bytes(seed=33, with_catalogue=False), public_date=PAST, reduction_level=91
    )
    missing = world.anon.get(f"/frame-catalog/{without.pk}/catalog/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "This frame has no catalog."}
    for unknown in ("987654321", "abc"):
        assert world.anon.get(f"/frame-catalog/{unknown}/catalog/").status_code == 404
