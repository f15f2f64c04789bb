"""Fixtures for the products tests: synthetic products and the real LCO samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from obsarchive.config import ProductSettings
from tests.conftest import require_shared_data

E90 = "coj1m011-kb05-20150219-0125-e90.fits.fz"


def lco_tar_settings() -> ProductSettings:
    """The override the upstream ingester tests use for spectrograph packages."""
    return ProductSettings(
        filetype_mapping_overrides={
            ".tar.gz": "ocs_archive.input.lcotarwithfitsfile.LcoTarWithFitsFile"
        }
    )


@pytest.fixture
def fits_dir() -> Path:
    """The directory of real LCO FITS products (skips when ../shared/data is absent)."""
    return require_shared_data() / "fits"


@pytest.fixture
def e90(fits_dir: Path) -> Path:
    return fits_dir / E90
