"""The LCO repairs (checklist 27-30) as pure functions and on synthetic products."""

from __future__ import annotations

from pathlib import Path

import pytest

from obsarchive.config import HeaderKeys
from obsarchive.products import InvalidHeaderError, open_product
from obsarchive.products.lco import (
    infer_configuration_type,
    infer_reduction_level,
    is_bpm,
    needs_configuration_type,
    repair_catalogue,
)
from obsarchive.products.synthetic import write_catalogue, write_fits, write_tar_bundle
from tests.products.conftest import lco_tar_settings

KEYS = HeaderKeys()


@pytest.mark.parametrize(
    ("basename", "headers", "expected"),
    [
        ("tst1m005-en20-20150511-1234-e00", {}, "SPECTRUM"),
        ("tst1m005-en20-20150511-bias-bin1x1", {}, "BIAS"),
        ("tst1m005-en20-20150511-bpm-bin1x1", {}, "BPM"),
        ("tstnrs1m005-fa20-20150511-1234-e00", {"ENCID": "igla"}, "TARGET"),
        ("tst1m005-fa20-20150511-1234-e00", {"TELID": "igla"}, "TARGET"),
        ("tst1m005-fa10-20150511-1234-e00", {}, "EXPOSE"),
        ("tst1m005-fa10-20150511-1234-a00", {}, "ARC"),
        ("tst1m005-fa10-20150511-1234-a00", {"ENCID": "igla"}, "DOUBLE"),
        ("tst1m005-fa10-20150511-1234-b00", {}, "BIAS"),
        ("tst1m005-fa10-20150511-1234-d00", {}, "DARK"),
        ("tst1m005-fa10-20150511-1234-f00", {}, "SKYFLAT"),
        ("tst1m005-fa10-20150511-1234-g00", {}, "GUIDE"),
        ("tst1m005-fa10-20150511-1234-s00", {}, "STANDARD"),
        ("tst1m005-fa10-20150511-1234-w00", {}, "LAMPFLAT"),
        ("tst1m005-fa10-20150511-1234-x00", {}, "EXPERIMENTAL"),
        ("trace-fa10-20150511-1234-x00", {}, "TRACE"),
        ("arc-fa10-20150511-1234-x00", {}, "ARC"),
        ("tst1m005-fa10-20150511-1234-z00", {}, None),
        ("bias_kb70_20151221_bin2x2", {}, None),
        ("tst1m005-fa10-20150511-1234-", {}, None),
    ],
)
def test_configuration_type_inference(
    basename: str, headers: dict[str, str], expected: str | None
) -> None:
    assert infer_configuration_type(basename, headers, KEYS) == expected


@pytest.mark.parametrize(
    ("value", "needed"),
    [("", True), (None, True), ("UNKNOWN", True), (" UNKNOWN ", True), ("EXPOSE", False)],
)
def test_needs_configuration_type(value: str | None, needed: bool) -> None:
    assert needs_configuration_type({"OBSTYPE": value}, KEYS) is needed
    assert needs_configuration_type({}, KEYS) is True


@pytest.mark.parametrize(
    ("basename", "extension", "level"),
    [
        ("coj1m011-kb05-20150219-0125-e90", ".fits.fz", 90),
        ("x-e10", ".fits.fz", 10),
        ("x-e00", ".fits.fz", 0),
        ("x-e91_cat", ".fits.fz", 91),
        ("bias_kb70_20151221_bin2x2", ".fits.fz", 0),
        ("x-e91", ".tar.gz", 90),
        ("foo-1", ".fits.fz", 0),  # upstream: int("-1") = -1
    ],
)
def test_reduction_level_inference(basename: str, extension: str, level: int) -> None:
    assert infer_reduction_level(basename, extension) == level


def test_catalogue_repair() -> None:
    result = repair_catalogue({"OBSTYPE": "EXPOSE"}, "something-e90_cat", KEYS)
    assert result == {"OBSTYPE": "CATALOG", "L1IDCAT": "something-e90"}
    kept = repair_catalogue({"L1IDCAT": "other"}, "something-e90_cat", KEYS)
    assert kept["L1IDCAT"] == "other"
    assert repair_catalogue({"OBSTYPE": "EXPOSE"}, "something-e90", KEYS) == {"OBSTYPE": "EXPOSE"}


@pytest.mark.parametrize(
    ("basename", "headers", "expected"),
    [
        ("bpm-kb05_bin2x2", {}, True),
        ("bpm_kb05_bin2x2", {}, True),
        ("x-bpm-y", {}, True),
        ("x_bpm", {}, True),
        ("x-e90", {"OBSTYPE": "BPM"}, True),
        ("x-e90", {"EXTNAME": "BPM"}, True),
        ("x-e90", {}, False),
        ("bpmx-e90", {}, False),
    ],
)
def test_bpm_detection(basename: str, headers: dict[str, str], expected: bool) -> None:
    assert is_bpm(basename, headers, KEYS) is expected


# -- on products ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rlevel", "basename", "expected"),
    [
        (91, "cpt1m001-fa14-20260115-0001-e90", 91),
        (None, "cpt1m001-fa14-20260115-0001-e90", 90),
        (None, "cpt1m001-fa14-20260115-0001-e00", 0),
        (None, "cpt1m001-fa14-20260115-0001-e10", 10),
        (0, "cpt1m001-fa14-20260115-0001-e90", 0),
        (None, "cpt1m001-fa14-20260115-0001-eXY", 0),
    ],
)
def test_lco_reduction_level_on_products(
    tmp_path: Path, rlevel: int | None, basename: str, expected: int
) -> None:
    """Checklist 27."""
    path = write_fits(tmp_path, basename=basename, rlevel=rlevel, compressed=True)
    product = open_product(path)
    assert product.record().reduction_level == expected
    assert product.storage_key.split("/")[3] == ("raw" if expected == 0 else "processed")


def test_string_reduction_level_becomes_int(tmp_path: Path) -> None:
    path = write_fits(tmp_path, compressed=True, rlevel=None, extra_headers={"RLEVEL": "91"})
    assert open_product(path).record().reduction_level == 91


def test_unknown_obstype_is_inferred(tmp_path: Path) -> None:
    """Checklist 28: OBSTYPE UNKNOWN (normalised to '') is inferred from the name."""
    path = write_fits(
        tmp_path,
        basename="cpt1m001-fa14-20260115-0001-w00",
        obstype="UNKNOWN",
        compressed=True,
    )
    assert open_product(path).record().configuration_type == "LAMPFLAT"


def test_uninferable_obstype(tmp_path: Path) -> None:
    path = write_fits(
        tmp_path, basename="cpt1m001-fa14-20260115-0001-z00", obstype="", compressed=True
    )
    with pytest.raises(InvalidHeaderError) as caught:
        open_product(path)
    assert "OBSTYPE is UNKNOWN and could not be inferred. Please manually correct it" in str(
        caught.value
    )
    assert path.name in str(caught.value)


def test_plain_fits_keeps_unknown_obstype_as_empty(tmp_path: Path) -> None:
    """No LCO repairs for .fits by default (upstream dispatch)."""
    path = write_fits(tmp_path, basename="cpt1m001-fa14-20260115-0001-z00", obstype="UNKNOWN")
    assert open_product(path).record().configuration_type == ""


def test_catalogue_product(tmp_path: Path) -> None:
    """Checklist 29 on a synthetic catalogue."""
    path = write_catalogue(tmp_path, basename="something-e90_cat")
    record = open_product(path).record()
    assert record.configuration_type == "CATALOG"
    assert record.headers["L1IDCAT"] == "something-e90"
    assert "something-e90" in record.related_frame_filenames
    assert record.reduction_level == 91  # from the RLEVEL card, not the name
    assert record.area is None


@pytest.mark.parametrize(
    ("basename", "extra"),
    [
        ("bpm-fa14_bin1x1", {}),
        ("bpm_fa14_bin1x1", {}),
        ("cpt1m001-fa14-20260115-0001-e91", {"OBSTYPE": "BPM"}),
        ("cpt1m001-fa14-20260115-0001-e91", {"EXTNAME": "BPM"}),
    ],
)
def test_bpm_storage_key(tmp_path: Path, basename: str, extra: dict[str, str]) -> None:
    """Checklist 30."""
    path = write_fits(tmp_path, basename=basename, compressed=True, extra_headers=extra)
    assert open_product(path).storage_key == f"cpt/fa14/bpm/{basename}.fits.fz"


def test_tar_bundles_generic_and_lco(tmp_path: Path) -> None:
    """Generic class reads the first FITS member; the LCO class the e00/e90/e91 one."""
    path = write_tar_bundle(tmp_path, spectrum_first=True, rlevel=None)
    with pytest.raises(Exception) as generic:
        open_product(path)  # the first .fits member is the 1-D spectrum, without headers
    assert type(generic.value).__name__ == "MissingHeadersError"
    product = open_product(path, settings=lco_tar_settings())
    record = product.record()
    assert record.reduction_level == 90  # no RLEVEL: .tar.gz default
    assert record.configuration_type == "TARGET"
    assert record.area is not None and record.area["type"] == "Polygon"
    assert product.content_type == "application/x-tar"
    assert product.storage_key.endswith("/processed/lscnrs01-fa09-20260115-0049-e91.tar.gz")


def test_nres_package_with_generic_class(tmp_path: Path) -> None:
    path = write_tar_bundle(tmp_path)
    record = open_product(path).record()
    assert record.reduction_level == 91
    assert record.configuration_type == "TARGET"
    assert record.observation_date is not None and record.proposal_id
    assert record.public_date is not None
