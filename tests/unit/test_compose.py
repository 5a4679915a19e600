"""compose.yaml and the Dockerfile, checked as far as a machine without a Docker engine can.

The file parses; every service it depends on is defined and every dependency condition is one
compose knows; the PORCH_* variables it passes are real Settings fields with valid values; the
commands are the project's console scripts; the Dockerfile installs the package with every
part of it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from messages.settings import ENV_PREFIX, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


def test_the_parts_are_there(services: dict[str, dict[str, Any]]) -> None:
    assert {"postgres", "rabbitmq", "migrate", "writer", "loadtest"} <= set(services)
    assert services["writer"]["deploy"]["replicas"] == 2
    assert services["loadtest"]["profiles"] == ["loadtest"]
    assert services["migrate"]["restart"] == "no"


def test_rabbitmq_is_3_13_or_newer(services: dict[str, dict[str, Any]]) -> None:
    image = services["rabbitmq"]["image"]
    match = re.fullmatch(r"rabbitmq:(\d+)\.(\d+)(?:\.\d+)?(?:-[a-z-]+)?", image)
    assert match, image
    assert (int(match[1]), int(match[2])) >= (3, 13)


def test_every_dependency_is_defined(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on", {})
        items = depends.items() if isinstance(depends, dict) else ((d, {}) for d in depends)
        for dependency, spec in items:
            assert dependency in services, f"{name} depends on undefined {dependency}"
            assert spec.get("condition", "service_started") in CONDITIONS
            if spec.get("condition") == "service_healthy":
                assert "healthcheck" in services[dependency], dependency
    # The writers start after the schema exists.
    assert services["writer"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


def porch_environments(services: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, str]]]:
    found = []
    for name, service in services.items():
        environment = service.get("environment", {})
        porch = {k: v for k, v in environment.items() if k.startswith(ENV_PREFIX)}
        if porch:
            found.append((name, porch))
    return found


def test_porch_variables_are_valid_settings(services: dict[str, dict[str, Any]]) -> None:
    environments = porch_environments(services)
    assert {name for name, _ in environments} == {"migrate", "writer", "loadtest"}
    for name, environment in environments:
        fields = {key.removeprefix(ENV_PREFIX).lower(): value for key, value in environment.items()}
        unknown = set(fields) - set(Settings.model_fields)
        assert not unknown, f"{name}: not Settings fields: {unknown}"
        assert all(isinstance(value, str) for value in fields.values()), name
        settings = load_settings(**fields)
        assert settings.database_url.startswith("postgresql://postgres:porch@postgres:5432/")
        assert "@rabbitmq:5672" in settings.amqp_url


def test_postgres_credentials_match_the_url(services: dict[str, dict[str, Any]]) -> None:
    environment = services["postgres"]["environment"]
    url = services["writer"]["environment"]["PORCH_DATABASE_URL"]
    assert f":{environment['POSTGRES_PASSWORD']}@" in url
    assert url.endswith("/" + environment["POSTGRES_DB"])


def test_commands_are_the_console_scripts(services: dict[str, dict[str, Any]]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    scripts = set(project["project"]["scripts"])
    for name in ("migrate", "writer", "loadtest"):
        service = services[name]
        program = (service.get("entrypoint") or service["command"])[0]
        assert program in scripts, f"{name} runs {program}"
        assert service["build"]["context"] == "."
        assert (ROOT / service["build"]["dockerfile"]).exists()


def test_the_dockerfile_installs_the_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = [line.strip() for line in dockerfile.splitlines() if line.strip()]
    bases = [line for line in instructions if line.startswith("FROM ")]
    assert bases == ["FROM python:3.11-slim"]  # the project's python (requires-python >= 3.11)
    copied = " ".join(line for line in instructions if line.startswith("COPY"))
    for part in ("pyproject.toml", "README.md", "messages", "producers", "writer", "loadtest"):
        assert part in copied, f"the Dockerfile does not copy {part}"
    assert re.search(r"^RUN pip install \.(\s|$)", dockerfile, re.MULTILINE)
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert not {"messages", "producers", "writer", "loadtest"} & set(ignored)
