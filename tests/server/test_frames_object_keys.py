"""The archive derives a version's object key by the library's rule, so the two never disagree.

A version posted without its ``object_key`` (by an upstream ingester) must be served from the
key the product was uploaded under. These tests read real (synthetic) products with the library
and check that the archive, given only the record, derives the same key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from obsarchive.products import open_product
from obsarchive.products.synthetic import write_fits
from obsarchive.server.frames.storage import frame_object_key, thumbnail_object_key


def _archive_key(product: Any) -> str:
    record = product.record()
    return frame_object_key(
        basename=record.basename,
        extension=product.extension,
        site_id=record.site_id,
        instrument_id=record.instrument_id,
        observation_day=record.observation_day,
        reduction_level=record.reduction_level,
        configuration_type=record.configuration_type,
        headers=record.headers,
    )


@pytest.mark.parametrize(
    ("options", "kind"),
    [
        ({"rlevel": 0, "compressed": True}, "raw"),
        ({"rlevel": 91, "compressed": True}, "processed"),
        ({"rlevel": 91, "compressed": False}, "processed"),
        ({"rlevel": 0, "compressed": False, "basename": "bpm-fa14_bin1x1"}, "raw"),  # not LCO
        ({"rlevel": 91, "compressed": True, "basename": "bpm-fa14_bin1x1"}, "bpm"),
        ({"rlevel": 91, "compressed": True, "basename": "bpm_fa14_bin1x1"}, "bpm"),
        ({"rlevel": 91, "compressed": True, "extra_headers": {"OBSTYPE": "BPM"}}, "bpm"),
        ({"rlevel": 91, "compressed": True, "extra_headers": {"EXTNAME": "BPM"}}, "bpm"),
        # "bpm" inside a name field does not make a mask (upstream LcoFitsFile rule).
        ({"rlevel": 91, "compressed": True, "basename": "cpt1m001-fa14-x-bpmap-e91"}, "processed"),
        (
            {"rlevel": None, "compressed": True, "basename": "cpt1m001-fa14-x-0001-e91_cat"},
            "processed",
        ),
    ],
)
def test_archive_derives_the_key_the_product_was_stored_under(
    tmp_path: Path, options: dict[str, Any], kind: str
) -> None:
    with open_product(write_fits(tmp_path, **options)) as product:
        assert product.storage_key.split("/")[-2] == kind
        assert _archive_key(product) == product.storage_key


@pytest.mark.parametrize(
    ("basename", "kind"),
    [
        ("cpt1m001-fa14-20260115-0001-e91", "processed"),
        ("cpt1m001-fa14-20260115-0001-e91_cat", "processed"),
        ("cpt1m001-fa14-20260115-0001-e00", "raw"),
        ("bias_kb70_20151221_bin2x2", "raw"),
    ],
)
def test_stored_level_zero_is_reinferred_for_fpacked_names(basename: str, kind: str) -> None:
    """The upstream archive re-reads a stored 0 from a ``.fits.fz`` name (``-e91``)."""
    common = {"site_id": "cpt", "instrument_id": "fa14", "observation_day": "2026-01-15"}
    packed = frame_object_key(basename=basename, extension=".fits.fz", reduction_level=0, **common)
    assert packed == f"cpt/fa14/20260115/{kind}/{basename}.fits.fz"
    plain = frame_object_key(basename=basename, extension=".fits", reduction_level=0, **common)
    assert plain == f"cpt/fa14/20260115/raw/{basename}.fits"


def test_thumbnail_keys_share_the_template() -> None:
    assert (
        thumbnail_object_key(
            basename="x-e91-small",
            extension=".jpg",
            site_id="cpt",
            instrument_id="fa14",
            observation_day="2026-01-15",
        )
        == "cpt/fa14/20260115/thumbnails/x-e91-small.jpg"
    )
    with pytest.raises(ValueError):
        thumbnail_object_key(
            basename="../x", extension=".jpg", site_id="cpt", instrument_id="fa14",
            observation_day="2026-01-15",
        )  # fmt: skip
