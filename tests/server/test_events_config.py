"""Event configuration read from the environment (broker, exchange, timeouts)."""

from __future__ import annotations

import pytest

from obsarchive.config import ConfigurationError
from obsarchive.server.events.config import EventSettings, load_event_settings


def test_blank_values_mean_the_defaults() -> None:
    settings = load_event_settings(
        {
            "QUEUE_BROKER_URL": "  ",
            "PROCESSED_EXCHANGE_NAME": "",
            "QUEUE_BROKER_CONNECT_TIMEOUT": "",
        }
    )
    assert settings == EventSettings()


def test_values_are_stripped_and_read() -> None:
    settings = load_event_settings(
        {
            "QUEUE_BROKER_URL": " amqp://guest:guest@127.0.0.1:5672// ",
            "PROCESSED_EXCHANGE_NAME": " fits_out ",
            "QUEUE_BROKER_CONNECT_TIMEOUT": "0.5",
            "QUEUE_BROKER_PUBLISH_TIMEOUT": "7",
        }
    )
    assert settings.broker_url == "amqp://guest:guest@127.0.0.1:5672//"
    assert settings.exchange_name == "fits_out" and settings.enabled
    assert (settings.connect_timeout, settings.publish_timeout) == (0.5, 7.0)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PROCESSED_EXCHANGE_NAME", "   "),
        ("QUEUE_BROKER_CONNECT_TIMEOUT", "0"),
        ("QUEUE_BROKER_PUBLISH_TIMEOUT", "-2"),
        ("QUEUE_BROKER_PUBLISH_TIMEOUT", "nan"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_event_settings({variable: value})
    assert caught.value.variable == variable
