"""Without reachable services and without Docker, the tests say how to provide them."""

from __future__ import annotations

import pytest

from tests import services


def test_no_services_and_no_docker_is_a_clear_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/porch")
    monkeypatch.setenv("PORCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:1/")
    monkeypatch.setattr(services, "_docker_available", lambda: False)
    with pytest.raises(RuntimeError) as caught, services.provide_services():
        pass
    message = str(caught.value)
    assert "PostgreSQL at postgresql://postgres@127.0.0.1:1/porch" in message
    assert "RabbitMQ at amqp://guest@127.0.0.1:1/" in message
    assert "pg_ctlcluster" in message
    assert "testcontainers" in message


def test_reachable_services_are_used_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    async def answers(url: str) -> None:
        return None

    monkeypatch.setattr(services, "_postgres_answers", answers)
    monkeypatch.setattr(services, "_rabbitmq_answers", answers)
    with services.provide_services() as urls:
        assert urls.source == "environment"
