"""Configuration from PORCH_* variables; a bad value is an error naming the variable."""

from __future__ import annotations

import pytest

from messages.settings import ConfigError, load_settings


def test_defaults_fit_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "PORCH_AMQP_URL",
        "PORCH_DATABASE_URL",
        "PORCH_PARTITIONS",
        "PORCH_TOPOLOGY_PREFIX",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.partitions == 16
    assert settings.topology_prefix == "porch"
    assert settings.amqp_url.startswith("amqp://guest:guest@127.0.0.1:5672")
    assert settings.database_url.startswith("postgresql://postgres@127.0.0.1:5432")


def test_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORCH_PARTITIONS", "64")
    monkeypatch.setenv("PORCH_TOPOLOGY_PREFIX", "staging")
    monkeypatch.setenv("PORCH_PRODUCER_ROLES", '{"render-bot": ["render"]}')
    settings = load_settings()
    assert (settings.partitions, settings.topology_prefix) == (64, "staging")
    assert settings.producer_roles == {"render-bot": ["render"]}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORCH_PARTITIONS", "many"),
        ("PORCH_PARTITIONS", "0"),
        ("PORCH_PARTITIONS", "5000"),
        ("PORCH_AMQP_URL", "http://rabbit"),
        ("PORCH_DATABASE_URL", "mysql://db"),
        ("PORCH_TOPOLOGY_PREFIX", "has space"),
        ("PORCH_BATCH_MAX", "-1"),
        ("PORCH_LOG_LEVEL", "loud"),
        ("PORCH_PRODUCER_ROLES", "not json"),
        ("PORCH_PRODUCER_ROLES", '{"bot": ["wizard"]}'),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()
