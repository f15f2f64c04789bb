"""Accounts configuration read from the environment (portal URLs, timeouts, throttle rates)."""

from __future__ import annotations

import pytest

from obsarchive.config import ConfigurationError
from obsarchive.server.accounts.config import AccountSettings, load_account_settings


def test_no_environment_means_no_portal_and_upstream_rates() -> None:
    settings = load_account_settings({})
    assert settings == AccountSettings()
    assert not settings.portal_enabled and not settings.portal_login_enabled


def test_portal_and_throttle_variables() -> None:
    settings = load_account_settings(
        {
            "OAUTH_PROFILE_URL": " https://portal.example.org/api/profile/ ",
            "OAUTH_TOKEN_URL": "https://portal.example.org/o/token/",
            "OAUTH_CLIENT_ID": "cid",
            "OAUTH_CONNECT_TIMEOUT": "1.5",
            "OAUTH_READ_TIMEOUT": "0",  # 0 keeps the default: no portal call goes untimed
            "PROPOSALS_CACHE_SECONDS": "120.9",
            "THROTTLE_ANON_RATE": "none",
            "THROTTLE_USER_RATE": "10/Minute",
        }
    )
    assert settings.oauth_profile_url == "https://portal.example.org/api/profile/"
    assert settings.portal_enabled and settings.portal_login_enabled
    assert settings.portal_connect_timeout == 1.5
    assert settings.portal_read_timeout == 10.0
    assert settings.proposals_cache_seconds == 120
    assert settings.throttle_anon_rate is None
    assert settings.throttle_user_rate == "10/minute"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OAUTH_PROFILE_URL", "portal.example.org/profile"),
        ("OAUTH_TOKEN_URL", "ftp://portal.example.org/token"),
        ("OAUTH_CONNECT_TIMEOUT", "-1"),
        ("OAUTH_READ_TIMEOUT", "soon"),
        ("PROPOSALS_CACHE_SECONDS", "inf"),
        ("OAUTH_BEARER_CACHE_SECONDS", "nan"),
        ("THROTTLE_ANON_RATE", "lots"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_account_settings({variable: value})
    assert caught.value.variable == variable
