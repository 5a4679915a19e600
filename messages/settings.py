"""One settings model for every part, read from `PORCH_*` environment variables.

It lives in `messages` because every part imports `messages`; reading the environment is the
only thing it does outside the contract.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from messages.limits import MIB, Limits
from messages.partition import MAX_PARTITIONS
from messages.roles import kinds_for

ENV_PREFIX = "PORCH_"


class ConfigError(Exception):
    """The configuration in the environment is not valid."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    amqp_url: str = Field("amqp://guest:guest@127.0.0.1:5672/", pattern=r"^amqps?://")
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/porch", pattern=r"^postgres(ql)?://"
    )
    partitions: int = Field(16, ge=1, le=MAX_PARTITIONS)
    topology_prefix: str = Field("porch", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$")
    delivery_limit: int = Field(20, ge=0, description="0: no limit (not advised)")
    prefetch: int = Field(512, ge=1, le=65535)
    batch_max: int = Field(256, ge=1)
    batch_wait_ms: float = Field(2.0, ge=0, le=1000)
    publish_timeout_s: float = Field(10.0, gt=0)
    outcome_timeout_s: float = Field(30.0, gt=0)
    max_in_flight: int = Field(1024, ge=1)
    max_key_bytes: int = Field(1024, ge=1)
    max_value_bytes: int = Field(4 * MIB, ge=1)
    max_resources: int = Field(10_000, ge=1)
    max_intent_bytes: int = Field(64 * MIB, ge=1)
    producer_roles: dict[str, list[str]] | None = Field(
        None, description='JSON: broker user -> roles or kinds, e.g. {"render": ["render"]}'
    )
    shutdown_grace_s: float = Field(10.0, gt=0)
    consumer_check_s: float = Field(
        5.0, gt=0, description="how often an idle partition checks that its consumer is alive"
    )
    retry_initial_s: float = Field(0.05, gt=0)
    retry_max_s: float = Field(5.0, gt=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"

    @field_validator("producer_roles")
    @classmethod
    def _known_grants(cls, value: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        for grants in (value or {}).values():
            kinds_for(grants)
        return value

    @property
    def limits(self) -> Limits:
        return Limits(
            max_key_bytes=self.max_key_bytes,
            max_value_bytes=self.max_value_bytes,
            max_resources=self.max_resources,
            max_intent_bytes=self.max_intent_bytes,
        )


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (overrides win), or `ConfigError` naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False):
            name = ENV_PREFIX + str(item["loc"][0]).upper() if item["loc"] else "environment"
            problems.append(f"{name}: {item['msg']} (got {item.get('input')!r})")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
