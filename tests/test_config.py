"""Configuration: OCS variable names, embedded defaults, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from obsarchive.config import ConfigurationError, load_settings, parse_list


def test_no_environment_means_embedded_defaults() -> None:
    settings = load_settings({})
    assert settings.home == Path("var")
    assert settings.store.filestore_type == "local"
    assert settings.store.root_dir == Path("var/store")
    assert settings.ingester.auth_token == ""
    assert settings.products.required_headers == (
        "PROPID", "DATE-OBS", "DAY-OBS", "INSTRUME", "SITEID", "TELID", "OBSTYPE", "BLKUID",
    )  # fmt: skip
    assert settings.flow.queue_url.startswith("sqlite:///")


def test_home_moves_every_embedded_path(tmp_path: Path) -> None:
    settings = load_settings({"OBSARCHIVE_HOME": str(tmp_path)})
    assert settings.store.root_dir == tmp_path / "store"
    assert str(tmp_path) in settings.flow.queue_url


def test_ocs_variable_names_are_honoured() -> None:
    settings = load_settings(
        {
            "FILESTORE_TYPE": "s3",
            "BUCKET": "archive-bucket",
            "S3_ENDPOINT_URL": "http://127.0.0.1:9000",
            "API_ROOT": "https://archive.example.org/api",
            "AUTH_TOKEN": "abc",
            "TARGET_NAME_KEY": "TARGNAME",
            "REQUIRED_HEADERS": " PROPID, DATE-OBS ,",
            "DAYS_UNTIL_PUBLIC": "180",
            "PUBLIC_PROPOSALS": "EPO",
        }
    )
    assert settings.store.bucket == "archive-bucket"
    assert settings.store.s3_endpoint_url == "http://127.0.0.1:9000"
    assert settings.ingester.api_root == "https://archive.example.org/api/"
    assert settings.ingester.auth_token == "abc"
    assert settings.products.keys.target_name == "TARGNAME"
    assert settings.products.required_headers == ("PROPID", "DATE-OBS")
    assert settings.products.public_date.days_until_public == 180
    assert settings.products.public_date.public_proposals == ("EPO",)


def test_upstream_dummy_store_is_never_a_silent_discard() -> None:
    assert load_settings({"FILESTORE_TYPE": "dummy"}).store.filestore_type == "dummy"


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"FILESTORE_TYPE": "crazystore"}, "FILESTORE_TYPE"),
        ({"DAYS_UNTIL_PUBLIC": "soon"}, "DAYS_UNTIL_PUBLIC"),
        ({"DAYS_UNTIL_PUBLIC": "-1"}, "DAYS_UNTIL_PUBLIC"),
        ({"API_ROOT": "archive:8000/"}, "API_ROOT"),
        ({"S3_ENDPOINT_URL": "minio:9000"}, "S3_ENDPOINT_URL"),
        ({"FILESTORE_TYPE": "s3", "BUCKET": "ab"}, "BUCKET"),
        ({"FILETYPE_MAPPING_OVERRIDES": "{'.fits': "}, "FILETYPE_MAPPING_OVERRIDES"),
        ({"FILETYPE_MAPPING_OVERRIDES": "['.fits']"}, "FILETYPE_MAPPING_OVERRIDES"),
        ({"S3_ADDRESSING_STYLE": "sideways"}, "S3_ADDRESSING_STYLE"),
        ({"MAKE_PREVIEWS": "maybe"}, "MAKE_PREVIEWS"),
        ({"QUEUE_URL": "redis://127.0.0.1"}, "QUEUE_URL"),
        ({"ARCHIVE_READ_TIMEOUT": "0"}, "ARCHIVE_READ_TIMEOUT"),
    ],
)
def test_bad_values_fail_naming_the_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", ()), (",", ()), ("a,b", ("a", "b")), (" a , b ,", ("a", "b")), (",a,,b", ("a", "b"))],
)
def test_ocs_list_syntax(raw: str, expected: tuple[str, ...]) -> None:
    assert parse_list(raw) == expected


def test_settings_are_frozen() -> None:
    settings = load_settings({})
    with pytest.raises(AttributeError):
        settings.store.bucket = "other"  # type: ignore[misc]
