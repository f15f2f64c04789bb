"""The Django settings read the environment through the shared typed reader.

Each case imports ``obsarchive.server.settings`` in a fresh interpreter (settings are read once,
at import) with a controlled environment, and reads back what it made of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Variables the cases set or must see unset; everything else is inherited (PATH, venv, ...).
_CONTROLLED = (
    "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "CACHE_URL", "CONFIGDB_URL", "CONFIGURATION_TYPES",
    "DATABASE_READER_URL", "DATABASE_URL", "DEBUG", "LOG_LEVEL", "NAVBAR_TITLE_TEXT",
    "PAGINATION_MAX_LIMIT", "SCIENCE_CONFIGURATION_TYPES", "SECRET_KEY", "THUMBNAIL_SIZE_CHOICES",
)  # fmt: skip

_REPORT = """
import json
from obsarchive.config import ConfigurationError
try:
    import obsarchive.server.settings as s
except ConfigurationError as exc:
    print(json.dumps({"error": exc.variable}))
else:
    print(json.dumps({
        "allowed_hosts": s.ALLOWED_HOSTS,
        "csrf": s.CSRF_TRUSTED_ORIGINS,
        "cache": s.CACHES["default"],
        "configdb": s.CONFIGDB_URL,
        "types": s.CONFIGURATION_TYPES,
        "science": s.SCIENCE_CONFIGURATION_TYPES,
        "sizes": s.THUMBNAIL_SIZE_CHOICES,
        "databases": sorted(s.DATABASES),
        "default_db": s.DATABASES["default"]["NAME"],
        "title": s.NAVBAR_TITLE_TEXT,
        "level": s.LOGGING["root"]["level"],
        "secret": s.SECRET_KEY,
    }))
"""


def _settings(tmp_path: Path, **environ: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in _CONTROLLED}
    env.update(OBSARCHIVE_HOME=str(tmp_path / "home"), **environ)
    done = subprocess.run(
        [sys.executable, "-c", _REPORT], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_defaults(tmp_path: Path) -> None:
    got = _settings(tmp_path)
    assert got["allowed_hosts"] == ["*"] and got["csrf"] == []
    assert got["cache"]["BACKEND"].endswith("LocMemCache")
    assert got["configdb"] == ""
    assert got["types"] == [
        "BIAS", "DARK", "EXPOSE", "SPECTRUM", "LAMPFLAT", "SKYFLAT", "STANDARD", "TRAILED",
        "GUIDE", "EXPERIMENTAL", "CATALOG",
    ]  # fmt: skip
    assert got["science"] == ["EXPOSE", "TARGET", "SPECTRUM", "CATALOG", "OBJECT"]
    assert got["sizes"] == ["small", "medium", "large"]
    assert got["databases"] == ["default"]
    assert got["default_db"] == str(tmp_path / "home" / "archive.sqlite3")
    assert (got["title"], got["level"]) == ("Science Archive API", "INFO")
    # No SECRET_KEY: one is generated once per home and kept there.
    assert got["secret"] == (tmp_path / "home" / "secret_key").read_text().strip()
    assert _settings(tmp_path)["secret"] == got["secret"]


def test_configured(tmp_path: Path) -> None:
    got = _settings(
        tmp_path,
        ALLOWED_HOSTS="archive.example, api.example,",
        CSRF_TRUSTED_ORIGINS="https://archive.example",
        CACHE_URL="redis://127.0.0.1:6379/3",
        CONFIGDB_URL="  http://configdb.example/  ",
        CONFIGURATION_TYPES=",EXPOSE, BIAS",
        SCIENCE_CONFIGURATION_TYPES="",
        THUMBNAIL_SIZE_CHOICES="small",
        DATABASE_URL="postgres://u@db.example:5432/archive",
        DATABASE_READER_URL="postgres://u@replica.example:5432/archive",
        NAVBAR_TITLE_TEXT="My archive",
        LOG_LEVEL="DEBUG",
        SECRET_KEY="configured-secret",
    )
    assert got["allowed_hosts"] == ["archive.example", "api.example"]
    assert got["csrf"] == ["https://archive.example"]
    assert got["cache"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/3",
    }
    assert got["configdb"] == "http://configdb.example/"
    assert got["types"] == ["EXPOSE", "BIAS"] and got["science"] == []
    assert got["sizes"] == ["small"]
    assert got["databases"] == ["default", "replica"] and got["default_db"] == "archive"
    assert (got["title"], got["level"], got["secret"]) == (
        "My archive",
        "DEBUG",
        "configured-secret",
    )
    # An empty reader URL means no replica, as an unset one does.
    assert _settings(tmp_path, DATABASE_READER_URL="")["databases"] == ["default"]


@pytest.mark.parametrize(
    ("variable", "value"), [("DEBUG", "maybe"), ("PAGINATION_MAX_LIMIT", "lots")]
)
def test_bad_values_name_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    assert _settings(tmp_path, **{variable: value}) == {"error": variable}
