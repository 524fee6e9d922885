"""The one settings object: read from the environment, typed, documented, and the docs current."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from streams.cli.config import render_markdown
from streams.settings import Settings, SettingsError, current_values, documented_fields

ROOT = Path(__file__).resolve().parents[2]


def test_environment_values_are_parsed_to_their_types():
    settings = Settings.from_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:29092",
            "CONSENTGATE_PARTITIONS": "12",
            "CONSENTGATE_ORDERING_MAX_WAIT_S": "0.5",
            "CONSENTGATE_DATA_DIR": "/var/lib/consentgate",
            "CONSENTGATE_FIRST_PARTY": "acme",
            "CONSENTGATE_DOUBLE_OPT_IN_CHANNELS": "email, sms",
        }
    )
    assert settings.kafka_bootstrap_servers == "127.0.0.1:29092"
    assert settings.partitions == 12
    assert settings.ordering_max_wait == timedelta(seconds=0.5)
    assert settings.data_dir == Path("/var/lib/consentgate")
    assert settings.policy.first_party == "acme"
    assert settings.policy.double_opt_in_channels == frozenset({"email", "sms"})


def test_defaults_bind_loopback_and_empty_values_mean_default():
    settings = Settings.from_env({"CONSENTGATE_WEB_BIND": ""})
    assert settings.web_bind == "127.0.0.1"
    assert settings.web_port == 6066


@pytest.mark.parametrize(
    "name,value", [("CONSENTGATE_PARTITIONS", "six"), ("CONSENTGATE_ORDERING_MAX_WAIT_S", "-1")]
)
def test_bad_values_are_refused_with_the_variable_named(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_every_setting_is_documented_and_shown():
    rows = documented_fields()
    assert len({env for env, _, _ in rows}) == len(rows)
    assert all(env and doc for env, _, doc in rows)
    assert set(current_values(Settings())) == {env for env, _, _ in rows}


def test_configuration_reference_is_current():
    assert (ROOT / "docs" / "configuration.md").read_text() == render_markdown(), (
        "run `make docs` to regenerate docs/configuration.md"
    )


@pytest.mark.parametrize(
    "name,value,says",
    [
        ("CONSENTGATE_LOG_LEVEL", "verbose", "not one of debug"),
        ("CONSENTGATE_EVENT_LOOP", "trio", "not one of uvloop"),
        ("CONSENTGATE_STORE", "redis://", "not one of rocksdb://"),
        ("CONSENTGATE_DOUBLE_OPT_IN_CHANNELS", "email,pigeon", "pigeon is not one of"),
        ("CONSENTGATE_PARTITIONS", "0", "between 1 and 10000"),
        ("CONSENTGATE_WEB_PORT", "70000", "between 1 and 65535"),
        ("CONSENTGATE_ORDERING_MAX_WAIT_S", "inf", "infinity"),
        ("CONSENTGATE_ORDERING_MAX_WAIT_S", "nan", "NaN"),
        ("CONSENTGATE_OPTOUT_CONFIRMATION_WINDOW_S", "0", "between 1 and"),
        ("CONSENTGATE_FIRST_PARTY", "\u200b", "ZERO WIDTH SPACE"),
    ],
)
def test_enum_settings_and_numbers_are_checked_with_the_variable_named(name, value, says):
    with pytest.raises(SettingsError, match=name) as caught:
        Settings.from_env({name: value})
    assert says in str(caught.value)


def test_enum_settings_are_read_in_any_case_and_kept_lower_case():
    settings = Settings.from_env(
        {
            "CONSENTGATE_LOG_LEVEL": "WARNING",
            "CONSENTGATE_EVENT_LOOP": "AsyncIO",
            "CONSENTGATE_DOUBLE_OPT_IN_CHANNELS": "Email, SMS",
            "CONSENTGATE_FIRST_PARTY": " Company ",
        }
    )
    assert (settings.log_level, settings.event_loop) == ("warning", "asyncio")
    assert settings.policy.double_opt_in_channels == frozenset({"email", "sms"})
    assert settings.policy.first_party == "company"


def test_the_output_linger_setting_reaches_the_output_producer():
    from streams.kafka_config import output_producer_config

    assert output_producer_config(Settings())["linger.ms"] == 1
    tuned = Settings.from_env({"CONSENTGATE_OUTPUT_LINGER_S": "0.0025"})
    assert output_producer_config(tuned)["linger.ms"] == 2.5
    with pytest.raises(SettingsError, match="CONSENTGATE_OUTPUT_LINGER_S"):
        Settings.from_env({"CONSENTGATE_OUTPUT_LINGER_S": "2"})
