"""``POST /frames/zip/``: request formats, streamed zips, uncompress, catalogues, mod_zip."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import zipfile
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from astropy.io import fits

from obsarchive.server.accounts.services import token_for
from obsarchive.server.frames.models import Frame, Version
from tests.server.factories import FUTURE, PAST
from tests.server.test_downloads import assert_uncompressed_equal, body, e91_bytes, fz_bytes

ZIP_NAME = re.compile(r"^attachment; filename=ocs_archive_data-(\d{8})-(\d+)\.zip$")


def zip_of(response: Any) -> tuple[zipfile.ZipFile, bytes]:
    data = body(response)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None  # every member's CRC checks out
    return archive, data


def members(archive: zipfile.ZipFile) -> dict[str, bytes]:
    return {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}


@pytest.fixture
def frames(download_archive: Any, world: Any) -> dict[str, Frame]:
    """Public frames of two proposals, proprietary ones of PROP-A (alice's) and PROP-B."""
    return {
        "public": download_archive.add(fz_bytes(seed=1), proposal_id="PROP-B", public_date=PAST),
        "public_unsized": download_archive.add(
            fz_bytes(seed=2), proposal_id="PROP-A", public_date=PAST, record_size=False
        ),
        "own": download_archive.add(fz_bytes(seed=3), proposal_id="PROP-A", public_date=FUTURE),
        "other": download_archive.add(fz_bytes(seed=4), proposal_id="PROP-B", public_date=FUTURE),
    }


def names(frames: dict[str, Frame], *keys: str, extension: str = ".fits.fz") -> set[str]:
    return {frames[key].basename + extension for key in keys}


def test_a_streamed_zip_of_public_frames(world: Any, frames: dict[str, Frame]) -> None:
    ids = [frame.pk for frame in frames.values()]
    response = world.anon.post(
        "/frames/zip/", {"frame_ids": ids, "uncompress": "false"}, format="json"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    match = ZIP_NAME.match(response["Content-Disposition"])
    assert match is not None
    assert match.group(1) == datetime.now(UTC).strftime("%Y%m%d") and match.group(2) == "2"
    assert response.cookies["fileDownload"].value == "true"
    assert response.cookies["fileDownload"]["path"] == "/"
    assert not response.has_header("X-Frame-Options")
    archive, data = zip_of(response)
    assert response["Content-Length"] == str(len(data))  # known before the first byte
    directory = f"ocs_archive_data-{match.group(1)}-2/"
    assert all(name.startswith(directory) for name in archive.namelist())
    content = members(archive)
    assert set(content) == names(frames, "public", "public_unsized")
    for frame_key in ("public", "public_unsized"):
        frame = frames[frame_key]
        stored = content[frame.basename + ".fits.fz"]
        assert hashlib.md5(stored).hexdigest() == Version.objects.get(frame=frame).md5
    for info in archive.infolist():
        assert info.compress_type == zipfile.ZIP_STORED


@pytest.mark.parametrize("how", ["header", "auth_token_drf", "auth_token_portal", "session"])
def test_a_member_gets_own_proposal_files(world: Any, frames: dict[str, Frame], how: str) -> None:
    from rest_framework.test import APIClient

    from obsarchive.server.accounts.services import profile_of

    ids = [frame.pk for frame in frames.values()]
    client = APIClient()
    payload: dict[str, Any] = {"frame_ids": ids}
    if how == "header":
        client = world.client(world.member)
    elif how == "auth_token_drf":
        payload["auth_token"] = token_for(world.member).key
    elif how == "auth_token_portal":
        profile = profile_of(world.member)
        profile.api_token = "portal-token-of-alice"
        profile.save()
        payload["auth_token"] = "portal-token-of-alice"
    else:
        client.force_login(world.member)
        client.handler.enforce_csrf_checks = False
    response = client.post("/frames/zip/", payload, format="json")
    assert response.status_code == 200, response.content
    archive, _ = zip_of(response)
    assert set(members(archive)) == names(frames, "public", "public_unsized", "own")


def test_the_web_clients_form_body(world: Any, frames: dict[str, Frame]) -> None:
    ids = [frames["own"].pk, frames["other"].pk, frames["public"].pk]
    form = {f"frame_ids[{i}]": str(pk) for i, pk in enumerate(ids)}
    form.update(auth_token=token_for(world.member).key, uncompress="false")
    response = world.anon.post("/frames/zip/", form)  # multipart, as a browser form
    assert response.status_code == 200
    assert set(members(zip_of(response)[0])) == names(frames, "own", "public")
    encoded = "&".join(f"frame_ids={pk}" for pk in ids)
    response = world.anon.post(
        "/frames/zip/", encoded, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert set(members(zip_of(response)[0])) == names(frames, "public")


def test_superuser_gets_everything_and_duplicates_once(
    world: Any, frames: dict[str, Frame]
) -> None:
    ids = [frame.pk for frame in frames.values()]
    response = world.su.post("/frames/zip/", {"frame_ids": ids + ids}, format="json")
    archive, _ = zip_of(response)
    assert len(archive.namelist()) == 4
    assert set(members(archive)) == names(frames, *frames)


def test_refusals(world: Any, frames: dict[str, Frame]) -> None:
    hidden = [frames["own"].pk, frames["other"].pk]
    response = world.anon.post("/frames/zip/", {"frame_ids": [*hidden, 999999]}, format="json")
    assert response.status_code == 404 and response.content == b""
    response = world.anon.post("/frames/zip/", {"uncompress": True}, format="json")
    assert response.status_code == 400 and "frame_ids" in response.json()
    for bad in (["abc"], [0], "x", [-3]):
        response = world.anon.post("/frames/zip/", {"frame_ids": bad}, format="json")
        assert response.status_code == 400 and "frame_ids" in response.json(), bad
    response = world.anon.post(
        "/frames/zip/", {"frame_ids": [frames["public"].pk], "auth_token": "nope"}, format="json"
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "No Token matches the given query."}
    assert world.anon.get("/frames/zip/").status_code == 405
    response = world.anon.post("/frames/zip/", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_a_missing_stored_file_is_reported_in_the_zip(
    download_archive: Any, world: Any, frames: dict[str, Frame]
) -> None:
    lost = Version.objects.get(frame=frames["public_unsized"])
    download_archive.store.delete(lost.object_key, lost.key)
    ids = [frames["public"].pk, frames["public_unsized"].pk]
    response = world.anon.post("/frames/zip/", {"frame_ids": ids}, format="json")
    assert response.status_code == 200
    content = members(zip_of(response)[0])
    assert set(content) == names(frames, "public") | {"MISSING_FILES.txt"}
    assert frames["public_unsized"].basename in content["MISSING_FILES.txt"].decode()


def test_uncompressed_zip(download_archive: Any, world: Any) -> None:
    originals = {seed: fz_bytes(seed=seed, shape=(30 + seed, 40)) for seed in range(11)}
    frames = {
        seed: download_archive.add(data, public_date=PAST) for seed, data in originals.items()
    }
    plain = download_archive.add(b"SIMPLE  =" + b" " * 2871, extension=".fits", public_date=PAST)
    ids = [frame.pk for frame in frames.values()] + [plain.pk]
    response = world.anon.post(
        "/frames/zip/", {"frame_ids": ids, "uncompress": True}, format="json"
    )
    assert response.status_code == 200  # no cap by default: upstream refused more than 10
    assert not response.has_header("Content-Length")  # derived sizes are learnt on the way
    content = members(zip_of(response)[0])
    assert set(content) == {f.basename + ".fits" for f in frames.values()} | {
        plain.basename + ".fits"
    }
    for seed, frame in frames.items():
        assert_uncompressed_equal(originals[seed], content[frame.basename + ".fits"])
    assert content[plain.basename + ".fits"] == b"SIMPLE  =" + b" " * 2871  # stored as it is


def test_the_uncompress_cap_when_configured(
    world: Any, frames: dict[str, Frame], settings: Any
) -> None:
    settings.OBSARCHIVE_DOWNLOADS = dataclasses.replace(
        settings.OBSARCHIVE_DOWNLOADS, zip_max_uncompressed_files=2
    )
    ids = [frame.pk for frame in frames.values()][:3]
    response = world.anon.post(
        "/frames/zip/", {"frame_ids": ids, "uncompress": True}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": [
            "A maximum of 2 frames can be downloaded with the uncompress flag. "
            "Please try again with fewer frame_ids."
        ]
    }
    assert world.anon.post("/frames/zip/", {"frame_ids": ids}, format="json").status_code == 200


def test_catalogue_only_zip(download_archive: Any, world: Any) -> None:
    with_cat = download_archive.add(e91_bytes(seed=1), public_date=PAST, reduction_level=91)
    without = download_archive.add(
        e91_bytes(seed=2, with_catalogue=False), public_date=PAST, reduction_level=91
    )
    raw = download_archive.add(fz_bytes(seed=3), public_date=PAST)  # not a processed frame
    ids = [with_cat.pk, without.pk, raw.pk]
    response = world.anon.post(
        "/frames/zip/", {"frame_ids": ids, "catalog_only": True}, format="json"
    )
    assert response.status_code == 200
    content = members(zip_of(response)[0])
    assert set(content) == {with_cat.basename + "-catalog.fits", raw.basename + ".fits.fz"}
    with fits.open(io.BytesIO(content[with_cat.basename + "-catalog.fits"])) as result:
        assert [hdu.name for hdu in result] == ["PRIMARY", "CAT"]


# -- nginx mod_zip ---------------------------------------------------------------------------


@pytest.fixture
def nginx(settings: Any) -> None:
    settings.OBSARCHIVE_DOWNLOADS = dataclasses.replace(
        settings.OBSARCHIVE_DOWNLOADS, zip_mode="nginx"
    )


MANIFEST_LINE = re.compile(r"^- (\d+) (\S+) (ocs_archive_data-\d{8}-(\d+))/(\S+)$")


def manifest(response: Any) -> list[tuple[int, str, str]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    assert response["X-Archive-Files"] == "zip"
    assert response.cookies["fileDownload"].value == "true"
    lines = response.content.decode().splitlines()
    parsed = []
    for line in lines:
        match = MANIFEST_LINE.match(line)
        assert match is not None, line
        assert response["Content-Disposition"] == f"attachment; filename={match.group(3)}.zip"
        assert int(match.group(4)) == len(lines)
        parsed.append((int(match.group(1)), match.group(2), match.group(5)))
    return parsed


def test_nginx_manifest_of_stored_files(world: Any, frames: dict[str, Frame], nginx: None) -> None:
    ids = [frame.pk for frame in frames.values()]
    lines = manifest(
        world.client(world.member).post("/frames/zip/", {"frame_ids": ids}, format="json")
    )
    assert {name for _, _, name in lines} == names(frames, "public", "public_unsized", "own")
    for size, location, name in lines:
        assert location.startswith("/download/")
        fetched = world.anon.get(location)  # what nginx's sub-request gets
        assert fetched.status_code == 200
        data = body(fetched)
        assert len(data) == size
        frame = Frame.objects.get(basename=name.removesuffix(".fits.fz"))
        assert hashlib.md5(data).hexdigest() == Version.objects.get(frame=frame).md5


def test_nginx_manifest_of_derived_files(download_archive: Any, world: Any, nginx: None) -> None:
    secret = download_archive.add(
        e91_bytes(seed=5), proposal_id="PROP-A", public_date=FUTURE, reduction_level=91
    )
    raw = download_archive.add(fz_bytes(seed=6), proposal_id="PROP-A", public_date=FUTURE)
    member = world.client(world.member)
    lines = manifest(
        member.post("/frames/zip/", {"frame_ids": [raw.pk], "uncompress": True}, format="json")
    )
    ((size, location, name),) = lines
    assert name == raw.basename + ".fits"
    assert location.startswith(f"/frame-funpack/{raw.pk}/funpack/?")
    fetched = world.anon.get(location)  # the signature stands for the member's visibility
    data = body(fetched)
    assert fetched.status_code == 200 and len(data) == size
    assert_uncompressed_equal(fz_bytes(seed=6), data)
    # The signature is bound to its frame and kind: it opens nothing else.
    query = dict(parse_qsl(urlsplit(location).query))
    assert world.anon.get(f"/frame-funpack/{secret.pk}/funpack/", query).status_code == 403
    assert world.anon.get(f"/frame-catalog/{raw.pk}/catalog/", query).status_code == 403
    assert world.anon.get(f"/frame-funpack/{raw.pk}/funpack/").status_code == 404  # no signature
    lines = manifest(
        member.post("/frames/zip/", {"frame_ids": [secret.pk], "catalog_only": True}, format="json")
    )
    ((size, location, name),) = lines
    assert name == secret.basename + "-catalog.fits"
    assert location.startswith(f"/frame-catalog/{secret.pk}/catalog/?")
    fetched = world.anon.get(location)
    assert fetched.status_code == 200 and len(body(fetched)) == size


def test_nginx_manifest_refusals(
    download_archive: Any, world: Any, frames: dict[str, Frame], nginx: None
) -> None:
    hidden = world.anon.post("/frames/zip/", {"frame_ids": [frames["own"].pk]}, format="json")
    assert hidden.status_code == 404 and hidden.content == b""
    no_cat = download_archive.add(
        e91_bytes(with_catalogue=False), public_date=PAST, reduction_level=91
    )
    response = world.anon.post(
        "/frames/zip/", {"frame_ids": [no_cat.pk], "catalog_only": True}, format="json"
    )
    assert response.status_code == 404
