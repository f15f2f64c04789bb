"""The DataProduct API on synthetic products: kinds, keys, headers and the record."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from obsarchive.products import (
    DataProduct,
    FitsProduct,
    LcoFitsProduct,
    MissingHeadersError,
    TarProduct,
    ThumbnailProduct,
    open_product,
)
from obsarchive.products.synthetic import write_catalogue, write_fits, write_tar_bundle

THUMBNAIL_METADATA = {
    "frame_basename": "cpt1m001-fa14-20260115-0001-e91",
    "size": "large",
    "DATE-OBS": "2026-01-15T03:00:00.000",
    "DAY-OBS": "20260115",
    "INSTRUME": "fa14",
    "SITEID": "cpt",
    "TELID": "1m0a",
}


def test_raw_frame(tmp_path: Path) -> None:
    path = write_fits(tmp_path, rlevel=0)
    product = open_product(path)
    assert type(product) is FitsProduct
    assert (product.basename, product.extension) == ("cpt1m001-fa14-20260115-0001-e00", ".fits")
    assert product.filename == str(path)
    assert product.content_type == "image/fits"
    assert not product.is_thumbnail
    assert product.storage_key == "cpt/fa14/20260115/raw/cpt1m001-fa14-20260115-0001-e00.fits"
    assert repr(product) == "<FitsProduct cpt1m001-fa14-20260115-0001-e00.fits>"


def test_processed_fpacked_frame(tmp_path: Path) -> None:
    path = write_fits(tmp_path, rlevel=91, compressed=True, proposal_id="LCO2026A-002")
    product = open_product(path)
    assert type(product) is LcoFitsProduct
    record = product.record()
    assert product.storage_key.startswith("cpt/fa14/20260115/processed/")
    assert record.reduction_level == 91
    assert record.proposal_id == "LCO2026A-002"
    assert record.public_date == "2027-01-15T03:00:00"
    assert record.related_frame_filenames == (
        "bias_fa14_20260115_bin1x1",
        "dark_fa14_20260115_bin1x1",
        "flat_fa14_20260115_SKYFLAT_bin1x1_rp",
        "bpm-fa14_bin1x1",
        "cpt1m001-fa14-20260115-0001-e00",
    )
    # The image header of the compressed HDU, not the table header, is what was read.
    assert record.headers["NAXIS1"] == 64 and "ZIMAGE" not in record.headers


def test_observation_date_is_aware_utc(tmp_path: Path) -> None:
    when = dt.datetime(2026, 1, 15, 3, 4, 5, 123000, tzinfo=dt.UTC)
    product = open_product(write_fits(tmp_path, date_obs=when))
    assert product.observation_date == when
    assert product.observation_date.tzinfo is not None
    assert product.record().observation_date == "2026-01-15T03:04:05.123"


def test_observation_date_with_an_offset_is_converted(tmp_path: Path) -> None:
    path = write_fits(tmp_path, extra_headers={"DATE-OBS": "2026-01-15T05:00:00+02:00"})
    product = open_product(path)
    assert product.observation_date == dt.datetime(2026, 1, 15, 3, tzinfo=dt.UTC)
    assert product.record().observation_date == "2026-01-15T05:00:00+02:00"  # raw, as upstream


def test_observation_date_none_when_absent(tmp_path: Path) -> None:
    path = write_fits(tmp_path, omit=["DATE-OBS"], obstype="BIAS")
    product = open_product(path, required_headers=[])
    assert product.observation_date is None
    assert product.record().public_date is None  # calibration without a date: public, no date


def test_headers_are_read_only(tmp_path: Path) -> None:
    product = open_product(write_fits(tmp_path))
    with pytest.raises(TypeError):
        product.headers["OBJECT"] = "changed"  # type: ignore[index]
    with pytest.raises(TypeError):
        product.record().headers["OBJECT"] = "changed"  # type: ignore[index]


def test_metadata_overrides_header_values(tmp_path: Path) -> None:
    path = write_fits(tmp_path, object_name="from header")
    record = open_product(path, metadata={"OBJECT": "from metadata"}).record()
    assert record.target_name == "from metadata"


def test_required_key_supplied_by_metadata(tmp_path: Path) -> None:
    path = write_fits(tmp_path, omit=["BLKUID"])
    with pytest.raises(MissingHeadersError, match="BLKUID"):
        open_product(path)
    record = open_product(path, metadata={"BLKUID": "42"}).record()
    assert record.observation_id == "42"


def test_header_keys_come_from_settings(tmp_path: Path) -> None:
    from obsarchive.config import load_settings

    settings = load_settings({"TARGET_NAME_KEY": "CATNAME", "REQUIRED_HEADERS": "CATNAME"})
    path = write_fits(tmp_path, extra_headers={"CATNAME": "NGC 1"})
    assert open_product(path, settings=settings.products).record().target_name == "NGC 1"


def test_blacklist_is_configurable(tmp_path: Path) -> None:
    path = write_fits(tmp_path, extra_headers={"FOO": 1, "BAZ": 2})
    headers = open_product(path, blacklist_headers=["FOO"]).headers
    assert "FOO" not in headers and headers["BAZ"] == 2
    assert "" not in headers


def test_commentary_cards_become_text_without_a_blacklist(tmp_path: Path) -> None:
    path = write_fits(tmp_path, extra_headers={"EMPTY": None})
    record = open_product(path, blacklist_headers=[]).record()
    assert record.headers["COMMENT"].startswith("Synthetic product")
    assert record.headers["HISTORY"].startswith("Not real data")
    assert record.headers["EMPTY"] is None  # an undefined value
    json.dumps(record.to_payload(), allow_nan=False)


def test_thumbnail(tmp_path: Path) -> None:
    path = tmp_path / "cpt1m001-fa14-20260115-0001-e91-large.jpeg"
    path.write_bytes(b"\xff\xd8\xff\xe0thumbnail")
    metadata = dict(THUMBNAIL_METADATA)
    product = open_product(path, metadata=metadata)
    assert type(product) is ThumbnailProduct and product.is_thumbnail
    assert product.content_type == "image/jpeg"
    assert product.storage_key == (
        "cpt/fa14/20260115/thumbnails/cpt1m001-fa14-20260115-0001-e91-large.jpeg"
    )
    record = product.record()
    assert (record.frame_basename, record.size) == ("cpt1m001-fa14-20260115-0001-e91", "large")
    assert metadata == THUMBNAIL_METADATA


def test_thumbnail_required_keys(tmp_path: Path) -> None:
    """(R) of §3.7: explicit required_headers are honoured; the default is the thumbnail set."""
    path = tmp_path / "t.jpg"
    path.write_bytes(b"\xff\xd8\xff")
    partial = {k: v for k, v in THUMBNAIL_METADATA.items() if k != "frame_basename"}
    with pytest.raises(MissingHeadersError, match="frame_basename"):
        open_product(path, metadata=partial)
    product = open_product(path, metadata=partial, required_headers=["SITEID"])
    assert product.record().frame_basename is None


def test_thumbnail_nulls_are_normalised(tmp_path: Path) -> None:
    path = tmp_path / "t.jpg"
    path.write_bytes(b"\xff\xd8\xff")
    record = open_product(path, metadata=THUMBNAIL_METADATA | {"REQNUM": "N/A"}).record()
    assert record.request_id is None


def test_pdf_is_not_normalised(tmp_path: Path) -> None:
    """Upstream's base DataFile keeps values as given (no nulls, no related stripping)."""
    path = tmp_path / "x-e92-summary.pdf"
    path.write_bytes(b"%PDF-1.3\n%%EOF\n")
    metadata = {
        "SITEID": "cpt",
        "INSTRUME": "nres03",
        "DATE-OBS": "2015-02-19T13:56:05.261",
        "OBJECT": "N/A",
        "L1IDBIAS": "bias.fits.fz",
    }
    product = open_product(path, metadata=metadata, required_headers=[])
    assert type(product) is DataProduct
    record = product.record()
    assert record.target_name == "N/A"
    assert record.related_frame_filenames == ("bias.fits.fz",)
    assert product.content_type == ""


def test_tar_bundle(tmp_path: Path) -> None:
    product = open_product(write_tar_bundle(tmp_path))
    assert type(product) is TarProduct
    assert product.content_type == "application/x-tar"
    assert product.record().area is not None


def test_tar_without_meta_uses_metadata(tmp_path: Path) -> None:
    path = write_tar_bundle(tmp_path, include_meta=False)
    metadata = {
        "PROPID": "LCO2026A-001",
        "DATE-OBS": "2026-01-15T03:00:00",
        "DAY-OBS": "20260115",
        "INSTRUME": "nres01",
        "SITEID": "lsc",
        "TELID": "igla",
        "OBSTYPE": "TARGET",
        "BLKUID": "7",
    }
    with pytest.raises(MissingHeadersError):
        open_product(path, settings=None, required_headers=None, metadata=None)
    # The generic class's first .fits member is the spectrum; the LCO class finds none.
    from tests.products.conftest import lco_tar_settings

    product = open_product(path, metadata=metadata, settings=lco_tar_settings())
    assert product.record().observation_id == "7"
    assert product.record().reduction_level == 90


def test_catalogue_has_no_area(tmp_path: Path) -> None:
    record = open_product(write_catalogue(tmp_path)).record()
    assert record.area is None
    assert record.configuration_type == "CATALOG"


def test_context_manager_closes_spooled_copy() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)
            self.name = "cpt1m001-fa14-20260115-0001-e00.fits"

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            chunk = self._data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    content = io.BytesIO()
    write_fits(content)
    with open_product(Pipe(content.getvalue())) as product:
        assert product.record().basename == "cpt1m001-fa14-20260115-0001-e00"
    with pytest.raises(ValueError):
        product.open()
