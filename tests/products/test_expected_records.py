"""Our records equal upstream's for every real LCO product in ../shared/data.

The reference records (data/expected-records.json) were produced by ocs-archive 0.5.0 with its
default settings. docs/compatibility.md lists no product-record deviation that affects these
files, so every field must match (footprint vertices within 1e-6 degree).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from obsarchive.config import ProductSettings
from obsarchive.products import FitsProduct, LcoFitsProduct, open_product
from tests.conftest import SHARED_DATA
from tests.products.conftest import E90


def _expected() -> dict[str, Any]:
    path = SHARED_DATA / "expected-records.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


EXPECTED = _expected()
FITS_NAMES = sorted(EXPECTED) or ["(shared data absent)"]


def _assert_area_equal(ours: Any, theirs: Any) -> None:
    if theirs is None:
        assert ours is None
        return
    assert ours is not None
    assert ours["type"] == theirs["type"] == "Polygon"
    (our_ring,) = ours["coordinates"]
    (their_ring,) = theirs["coordinates"]
    assert len(our_ring) == len(their_ring) == 5
    for (ra, dec), (their_ra, their_dec) in zip(our_ring, their_ring, strict=True):
        assert ra == pytest.approx(their_ra, abs=1e-6)
        assert dec == pytest.approx(their_dec, abs=1e-6)


def test_every_shared_fits_file_has_an_expected_record(fits_dir: Path) -> None:
    on_disk = {path.name for path in fits_dir.iterdir()}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", FITS_NAMES)
def test_record_matches_upstream(fits_dir: Path, name: str) -> None:
    path = fits_dir / name
    expected = EXPECTED[name]
    assert hashlib.md5(path.read_bytes()).hexdigest() == expected["md5"]  # the right file

    payload = open_product(path).record().to_payload()
    theirs = expected["record"]
    assert set(payload) == set(theirs) | {"headers"}
    for field, value in theirs.items():
        if field == "area":
            _assert_area_equal(payload["area"], value)
        else:
            assert payload[field] == value, field
    json.dumps(payload, allow_nan=False)  # the record is what POST /frames/ receives


@pytest.mark.parametrize("name", FITS_NAMES)
def test_headers_drop_blank_and_commentary_cards(fits_dir: Path, name: str) -> None:
    headers = open_product(fits_dir / name).headers
    assert {"", "COMMENT", "HISTORY"}.isdisjoint(headers)


def test_default_dispatch_is_upstream(fits_dir: Path) -> None:
    assert type(open_product(fits_dir / E90)) is LcoFitsProduct
    assert type(open_product(fits_dir / E90.removesuffix(".fz"))) is FitsProduct


def test_e90_record_matches_the_ingest_checklist(e90: Path) -> None:
    """Checklist C11/C12 values (the library part) and the E90 store key."""
    product = open_product(e90)
    record = product.record()
    assert record.reduction_level == 90
    assert record.observation_day == "20150219"
    assert record.observation_date == "2015-02-19T13:56:05.261"
    assert record.proposal_id == "LCOEPO2014B-010"
    assert (record.instrument_id, record.site_id, record.telescope_id) == ("kb05", "coj", "1m0a")
    assert (record.target_name, record.primary_optical_element) == ("M84", "V")
    assert record.exposure_time == 10.0
    assert record.public_date == "2015-02-19T13:56:05"
    assert record.configuration_type == "EXPOSE"
    assert (record.observation_id, record.request_id) == ("53195954", "0000296263")
    assert (record.frame_basename, record.size) == (None, "")
    assert record.related_frame_filenames[:3] == (
        "bias_kb05_20150219_bin2x2",
        "dark_kb05_20150219_bin2x2",
        "flat_kb05_20150219_SKYFLAT_bin2x2_V",
    )
    assert record.area is not None and record.area["type"] == "Polygon"
    ring = record.area["coordinates"][0]
    assert len(ring) == 5 and ring[0] == ring[-1]
    assert product.storage_key == (
        "coj/kb05/20150219/processed/coj1m011-kb05-20150219-0125-e90.fits.fz"
    )
    assert product.content_type == "image/fits"
    assert set(record.to_payload()) == {
        "area", "basename", "configuration_type", "exposure_time", "frame_basename", "headers",
        "instrument_id", "observation_date", "observation_day", "observation_id",
        "primary_optical_element", "proposal_id", "public_date", "reduction_level",
        "related_frame_filenames", "request_id", "site_id", "size", "target_name",
        "telescope_id",
    }  # fmt: skip


def test_catalogue_links_to_its_frame(fits_dir: Path) -> None:
    """Checklist 29 and 36 on the real catalogue."""
    record = open_product(fits_dir / "cpt1m010-kb70-20151219-0073-e10_cat.fits.fz").record()
    assert record.headers["L1IDCAT"] == "cpt1m010-kb70-20151219-0073-e10"
    assert record.configuration_type == "CATALOG"
    assert "cpt1m010-kb70-20151219-0073-e10" in record.related_frame_filenames
    assert record.area is None


def test_null_object_becomes_empty(fits_dir: Path) -> None:
    """Upstream test_empty_string_for_na: OBJECT 'N/A' gives a falsy target name."""
    record = open_product(fits_dir / "coj1m011-fl08-20151216-0049-b00.fits.fz").record()
    assert record.target_name == ""
    assert record.observation_date


def test_fits_and_fpacked_twins_give_equal_fields_as_fits(fits_dir: Path) -> None:
    """Checklist 26: E90 .fits and .fits.fz read by the plain FITS class agree."""
    as_fits = ProductSettings(
        filetype_mapping_overrides={".fits.fz": "obsarchive.products.product.FitsProduct"}
    )
    plain = open_product(fits_dir / E90.removesuffix(".fz"), settings=as_fits).record()
    packed = open_product(fits_dir / E90, settings=as_fits).record()
    plain_fields = plain.to_payload()
    packed_fields = packed.to_payload()
    for payload in (plain_fields, packed_fields):
        payload.pop("headers")
        payload.pop("area")
    assert plain_fields == packed_fields
    assert plain_fields["reduction_level"] == 0


def test_fitsproduct_normalises_metadata_nulls(e90: Path) -> None:
    """Checklist 23: null markers in metadata over E90, read as FITS."""
    metadata = {
        "OBJECT": "UNKNOWN",
        "PROPID": "N/A",
        "BLKUID": "N/A",
        "INSTRUME": "fl03",
        "REQNUM": "UNSPECIFIED",
    }
    as_fits = ProductSettings(
        filetype_mapping_overrides={".fits.fz": "obsarchive.products.product.FitsProduct"}
    )
    record = open_product(
        e90, metadata=metadata, settings=as_fits, required_headers=("DATE-OBS", "PROPID")
    ).record()
    assert record.target_name == ""
    assert record.proposal_id == ""
    assert record.observation_id is None
    assert record.instrument_id == "fl03"
    assert record.request_id is None
    assert metadata["OBJECT"] == "UNKNOWN"  # the caller's dict is untouched


def test_pdf_with_metadata(shared_data: Path) -> None:
    """Checklist 22: a PDF described by metadata, with no required keys."""
    metadata = {
        "SITEID": "cpt",
        "INSTRUME": "nres03",
        "DATE-OBS": "2015-02-19T13:56:05.261",
        "OBSTYPE": "EXPOSE",
        "RLEVEL": 92,
    }
    original = dict(metadata)
    product = open_product(
        shared_data / "other" / "cptnrs03-fa13-20150219-0001-e92-summary.pdf",
        metadata=metadata,
        required_headers=[],
    )
    assert product.storage_key == (
        "cpt/nres03/20150219/processed/cptnrs03-fa13-20150219-0001-e92-summary.pdf"
    )
    assert product.content_type == ""
    record = product.record()
    assert record.basename == "cptnrs03-fa13-20150219-0001-e92-summary"
    assert record.reduction_level == 92
    assert record.observation_day == "20150219"
    assert metadata == original  # DAY-OBS and L1PUBDAT were not written into it


def test_pdf_needs_its_required_metadata(shared_data: Path) -> None:
    """Checklist 21 (library part)."""
    from obsarchive.products import MissingHeadersError

    pdf = shared_data / "other" / "cptnrs03-fa13-20150219-0001-e92-summary.pdf"
    with pytest.raises(MissingHeadersError, match="cptnrs03-fa13"):
        open_product(pdf)
    full = {
        "PROPID": "LCO2015A-001",
        "DATE-OBS": "2015-02-19T13:56:05.261",
        "INSTRUME": "nres03",
        "SITEID": "cpt",
        "TELID": "1m0a",
        "OBSTYPE": "EXPOSE",
        "BLKUID": "1",
    }
    with pytest.raises(MissingHeadersError, match="DAY-OBS"):
        open_product(pdf, metadata=full)
    without_blkuid = {k: v for k, v in full.items() if k != "BLKUID"} | {"DAY-OBS": ""}
    with pytest.raises(MissingHeadersError, match="BLKUID"):
        open_product(pdf, metadata=without_blkuid)
    record = open_product(pdf, metadata=full | {"DAY-OBS": ""}).record()
    assert record.observation_day == "20150219"


def test_jpeg_thumbnail_with_metadata(shared_data: Path) -> None:
    """Checklist 20 (library part): key, content type, size and frame_basename."""
    metadata = {
        "SITEID": "tfn",
        "INSTRUME": "sq32",
        "DATE-OBS": "2024-04-26T10:00:00",
        "DAY-OBS": "20240426",
        "TELID": "0m4a",
        "frame_basename": "tfn0m419-sq32-20240426-0097-e91",
        "size": "small",
    }
    product = open_product(
        shared_data / "other" / "tfn0m419-sq32-20240426-0097-e91-small.jpg", metadata=metadata
    )
    assert product.is_thumbnail
    assert product.content_type == "image/jpg"
    assert product.storage_key == (
        "tfn/sq32/20240426/thumbnails/tfn0m419-sq32-20240426-0097-e91-small.jpg"
    )
    record = product.record()
    assert (record.size, record.frame_basename) == ("small", "tfn0m419-sq32-20240426-0097-e91")
    assert record.request_id is None
