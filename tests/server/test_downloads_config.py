"""Download configuration: empty values, case and refusal (more in test_downloads_units.py)."""

from __future__ import annotations

import pytest

from obsarchive.config import ConfigurationError
from obsarchive.server.downloads.config import DownloadSettings, load_download_settings


def test_empty_values_mean_the_defaults() -> None:
    settings = load_download_settings({"ZIP_MODE": "", "ZIP_DOWNLOAD_FILENAME_BASE": ""})
    assert settings == DownloadSettings()


def test_mode_ignores_case_and_spaces() -> None:
    assert load_download_settings({"ZIP_MODE": " Stream "}).zip_mode == "stream"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ZIP_MODE", "   "),
        ("ZIP_DOWNLOAD_FILENAME_BASE", "  "),
        ("ZIP_DOWNLOAD_FILENAME_BASE", "a;b"),
        ("ZIP_MAX_FILES", "-1"),
        ("DOWNLOAD_URL_EXPIRY_SECONDS", "59"),
    ],
)
def test_blank_or_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_download_settings({variable: value})
    assert caught.value.variable == variable
