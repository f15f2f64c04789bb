"""Choosing the product class by extension (checklist 3, 4 and 43)."""

from __future__ import annotations

from pathlib import Path

import pytest

from obsarchive.config import ProductSettings, load_settings
from obsarchive.products import (
    DataProduct,
    FitsProduct,
    LcoFitsProduct,
    LcoTarProduct,
    ProductConfigurationError,
    TarProduct,
    ThumbnailProduct,
    UnsupportedProductError,
    open_product,
    product_class,
)
from obsarchive.products.synthetic import write_fits, write_tar_bundle


@pytest.mark.parametrize(
    ("extension", "cls"),
    [
        (".fits.fz", LcoFitsProduct),
        (".fits", FitsProduct),
        (".tar.gz", TarProduct),
        (".pdf", DataProduct),
        (".jpg", ThumbnailProduct),
        (".jpeg", ThumbnailProduct),
    ],
)
def test_default_map(extension: str, cls: type) -> None:
    assert product_class(extension) is cls


@pytest.mark.parametrize("extension", [".fake", ".FITS", ".txt", "", ".fits.gz", ".tgz"])
def test_unmapped_extensions(extension: str) -> None:
    with pytest.raises(UnsupportedProductError) as caught:
        product_class(extension, filename="x" + extension)
    assert "is not a currently supported file type" in str(caught.value)
    assert caught.value.filename == "x" + extension


def test_overrides_extend_and_replace() -> None:
    overrides = {
        ".fake.fits": "obsarchive.products.product.FitsProduct",
        ".superpdf": "obsarchive.products.product.DataProduct",
        ".fits": "obsarchive.products.product.LcoFitsProduct",
    }
    assert product_class(".fake.fits", overrides) is FitsProduct
    assert product_class(".superpdf", overrides) is DataProduct
    assert product_class(".fits", overrides) is LcoFitsProduct
    assert product_class(".fits.fz", overrides) is LcoFitsProduct  # untouched entries remain


def test_upstream_class_paths_are_understood() -> None:
    overrides = {".tar.gz": "ocs_archive.input.lcotarwithfitsfile.LcoTarWithFitsFile"}
    assert product_class(".tar.gz", overrides) is LcoTarProduct


def test_overrides_from_the_environment() -> None:
    settings = load_settings(
        {"FILETYPE_MAPPING_OVERRIDES": "{'.fits': 'obsarchive.products.product.LcoFitsProduct'}"}
    )
    assert product_class(".fits", settings.products.filetype_mapping_overrides) is LcoFitsProduct


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "this.module.is.fake.fitsfile.FitsFile",
            "module this.module.is.fake.fitsfile was not found. "
            "Please ensure the class path is correct",
        ),
        (
            "obsarchive.products.product.FakeFitsFile",
            "class FakeFitsFile does not exist within module obsarchive.products.product. "
            "Please ensure the class path is correct",
        ),
        (
            "obsarchive.products.streams.ProductSource",
            "class ProductSource must be a subclass of the obsarchive.products.DataProduct class",
        ),
        ("NoDots", "must be a dotted path"),
    ],
)
def test_override_errors(path: str, message: str) -> None:
    with pytest.raises(ProductConfigurationError) as caught:
        product_class(".fits", {".fits": path}, filename="x.fits")
    assert message in str(caught.value)
    assert "x.fits" in str(caught.value)


def test_override_to_lco_infers_reduction_level_for_plain_fits(tmp_path: Path) -> None:
    path = write_fits(tmp_path, rlevel=None, basename="cpt1m001-fa14-20260115-0001-e91")
    assert open_product(path).record().reduction_level == 0  # upstream: .fits is plain FITS
    lco = ProductSettings(
        filetype_mapping_overrides={".fits": "ocs_archive.input.lcofitsfile.LcoFitsFile"}
    )
    assert open_product(path, settings=lco).record().reduction_level == 91


def test_fits_class_refuses_other_extensions(tmp_path: Path) -> None:
    path = write_fits(tmp_path / "x.fit", rlevel=0)
    settings = ProductSettings(
        filetype_mapping_overrides={".fit": "obsarchive.products.product.FitsProduct"}
    )
    with pytest.raises(ProductConfigurationError, match=r"must have extension .fits or .fits.fz"):
        open_product(path, settings=settings)


def test_tar_class_refuses_tgz(tmp_path: Path) -> None:
    """Checklist 43: upstream raised AttributeError; we raise a product error."""
    path = write_tar_bundle(tmp_path / "x.tgz")
    settings = ProductSettings(
        filetype_mapping_overrides={".tgz": "obsarchive.products.product.TarProduct"}
    )
    with pytest.raises(ProductConfigurationError, match=r"\.tar or \.tar\.gz") as caught:
        open_product(path, settings=settings)
    assert "x.tgz" in str(caught.value)
