"""Find PostgreSQL and RabbitMQ for the tests: the environment's, else testcontainers' ones.

The URLs come from the same `PORCH_*` variables the daemon reads. When nothing answers there and
Docker is available, containers are started; when neither, the tests that need the services fail
with a message that says how to provide them (never a silent skip).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import aio_pika
import asyncpg
from yarl import URL

from messages.settings import load_settings

HOW_TO_PROVIDE = (
    "Start the machine's services (`pg_ctlcluster --skip-systemctl-redirect "
    "$(ls /etc/postgresql) main start` and `rabbitmq-server -detached`), point "
    "PORCH_DATABASE_URL and PORCH_AMQP_URL at running ones, or make Docker available so the "
    "tests can start them with testcontainers."
)


@dataclass(frozen=True)
class ServiceUrls:
    database_url: str
    amqp_url: str
    source: str


def database_url_named(url: str, database: str) -> str:
    return str(URL(url).with_path("/" + database))


async def _postgres_answers(url: str) -> str | None:
    try:
        connection = await asyncpg.connect(database_url_named(url, "postgres"), timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError) as error:
        return f"PostgreSQL at {URL(url).with_password(None)}: {error!r}"
    await connection.close()
    return None


async def _rabbitmq_answers(url: str) -> str | None:
    try:
        connection = await aio_pika.connect(url, timeout=5)
    except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as error:
        return f"RabbitMQ at {URL(url).with_password(None)}: {error!r}"
    await connection.close()
    return None


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=30)
    return probe.returncode == 0


@contextlib.contextmanager
def provide_services() -> Iterator[ServiceUrls]:
    settings = load_settings()

    async def probe() -> list[str]:
        results = await asyncio.gather(
            _postgres_answers(settings.database_url), _rabbitmq_answers(settings.amqp_url)
        )
        return [problem for problem in results if problem]

    problems = asyncio.run(probe())
    if not problems:
        yield ServiceUrls(settings.database_url, settings.amqp_url, "environment")
        return
    if not _docker_available():
        raise RuntimeError(
            "PostgreSQL and RabbitMQ are needed and not reachable: "
            + "; ".join(problems)
            + ". "
            + HOW_TO_PROVIDE
        )
    yield from _containers()


def _containers() -> Iterator[ServiceUrls]:
    # Imported here: only a machine without the services needs testcontainers and Docker.
    from testcontainers.postgres import PostgresContainer  # noqa: PLC0415
    from testcontainers.rabbitmq import RabbitMqContainer  # noqa: PLC0415

    with (
        PostgresContainer("postgres:16", driver=None) as postgres,
        RabbitMqContainer("rabbitmq:3.13") as rabbit,
    ):
        database_url = postgres.get_connection_url()
        host = rabbit.get_container_host_ip()
        port = rabbit.get_exposed_port(rabbit.port)
        yield ServiceUrls(database_url, f"amqp://guest:guest@{host}:{port}/", "testcontainers")
