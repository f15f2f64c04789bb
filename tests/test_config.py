"""Configuration: OCS variable names, embedded defaults, and errors that name the variable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from obsarchive.config import ConfigurationError, EnvReader, load_settings, parse_list


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


# --- EnvReader: the typed readers every part of obsarchive (the server apps too) uses ---------


def _reader(**environ: str) -> EnvReader:
    return EnvReader(environ)


def _fails_naming(variable: str, read: Callable[[], object]) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        read()
    assert caught.value.variable == variable
    return caught.value


def test_stripped_text_falls_back_only_when_unset_or_empty() -> None:
    assert _reader().stripped("X", "dflt") == "dflt"
    assert _reader(X="").stripped("X", "dflt") == "dflt"
    assert _reader(X="  value ").stripped("X", "dflt") == "value"
    assert _reader(X="   ").stripped("X", "dflt") == ""  # blank is the caller's to refuse


def test_url_is_optional_stripped_and_http() -> None:
    assert _reader().url("U") is None
    assert _reader(U="  ").url("U") is None
    assert _reader(U=" https://portal.example.org/api/ ").url("U") == (
        "https://portal.example.org/api/"
    )
    _fails_naming("U", lambda: _reader(U="portal.example.org").url("U"))
    _fails_naming("U", lambda: _reader(U="ftp://portal.example.org").url("U"))


@pytest.mark.parametrize("raw", ["0", "-1", "0.0", "nan", "inf", "-inf", "soon"])
def test_positive_refuses_zero_negative_and_non_finite(raw: str) -> None:
    _fails_naming("T", lambda: _reader(T=raw).positive("T", 2.0))


def test_positive_reads_numbers_and_defaults() -> None:
    assert _reader().positive("T", 2.0) == 2.0
    assert _reader(T=" ").positive("T", 2.0) == 2.0
    assert _reader(T="0.25").positive("T", 2.0) == 0.25


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf"])
def test_number_refuses_non_finite_values(raw: str) -> None:
    error = _fails_naming("N", lambda: _reader(N=raw).number("N", 1.0))
    assert "finite" in error.problem


def test_number_and_integer_minimums() -> None:
    assert _reader(N="0").number("N", 1.0) == 0.0
    _fails_naming("N", lambda: _reader(N="-0.5").number("N", 1.0))
    assert _reader(I=" 7 ").integer("I", 1, minimum=1) == 7
    _fails_naming("I", lambda: _reader(I="0").integer("I", 1, minimum=1))
    _fails_naming("I", lambda: _reader(I="1.5").integer("I", 1))


def test_choice_is_exact_unless_asked() -> None:
    choices = ("stream", "nginx")
    assert _reader().choice("M", "stream", choices) == "stream"
    assert _reader(M=" nginx ").choice("M", "stream", choices) == "nginx"
    _fails_naming("M", lambda: _reader(M="NGINX").choice("M", "stream", choices))
    _fails_naming("M", lambda: _reader(M="").choice("M", "stream", choices))
    assert _reader(M="NGINX").choice("M", "stream", choices, ignore_case=True) == "nginx"
    assert _reader(M="").choice("M", "stream", choices, empty_is_default=True) == "stream"
    _fails_naming("M", lambda: _reader(M="zip").choice("M", "stream", choices, ignore_case=True))


def test_flag_csv_and_mapping() -> None:
    assert _reader(F=" Yes ").flag("F", False) is True
    assert _reader(F="off").flag("F", True) is False
    assert _reader(F="").flag("F", True) is True
    _fails_naming("F", lambda: _reader(F="perhaps").flag("F", True))
    assert _reader(L=" a , b ,").csv("L", ("x",)) == ("a", "b")
    assert _reader().csv("L", ("x",)) == ("x",)
    assert _reader(D="{'.fits': 'x.Y'}").mapping("D") == {".fits": "x.Y"}
    _fails_naming("D", lambda: _reader(D="{'.fits': 1}").mapping("D"))
