"""A RabbitMQ node of the test's own, so the test can stop, kill and restart a broker while the
machine's broker (which other tests and people use) is never touched.

Everything the node owns lives in one temporary folder: its node name, its AMQP and
distribution ports, its data (RABBITMQ_MNESIA_BASE), logs, configuration, enabled plugins and
even its Erlang cookie (HOME). It runs as the current user, straight from RabbitMQ's own
scripts (the Debian wrapper in /usr/sbin would switch to the rabbitmq user).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from tests.waiting import wait_until

SCRIPT_DIRS = (Path("/usr/lib/rabbitmq/bin"), Path("/usr/local/lib/rabbitmq/bin"))
CLI_PORTS = range(35672, 35693)
"""RabbitMQ's command-line tools take their distribution ports here: never give them away."""
START_TIMEOUT_S = 90


def rabbitmq_scripts() -> Path | None:
    """The folder of rabbitmq-server and rabbitmqctl, or None when RabbitMQ is not installed."""
    override = os.environ.get("PORCH_RABBITMQ_BIN")
    candidates = [Path(override)] if override else list(SCRIPT_DIRS)
    for folder in candidates:
        if (folder / "rabbitmq-server").exists() and (folder / "rabbitmqctl").exists():
            return folder
    found = shutil.which("rabbitmq-server")
    return Path(found).parent if found and shutil.which("rabbitmqctl") else None


def free_port() -> int:
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in CLI_PORTS:
            return port


class BrokerNode:
    def __init__(self, scripts: Path, directory: Path) -> None:
        self.scripts = scripts
        self.directory = directory
        self.node = f"porchfault{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.starts = 0
        self.stops = 0
        self.kills = 0
        self._pid: int | None = None
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "enabled_plugins").write_text("[].\n")
        (directory / "rabbitmq.conf").write_text("")
        (directory / "rabbitmq-env.conf").write_text("")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def pid_file(self) -> Path:
        return self.directory / "node.pid"

    def environment(self) -> dict[str, str]:
        base = {key: value for key, value in os.environ.items() if not key.startswith("RABBITMQ_")}
        folder = str(self.directory)
        return base | {
            "HOME": folder,  # the Erlang cookie of this node only
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": f"{folder}/mnesia",
            "RABBITMQ_LOG_BASE": f"{folder}/log",
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "RABBITMQ_CONFIG_FILE": f"{folder}/rabbitmq.conf",
            "RABBITMQ_CONF_ENV_FILE": f"{folder}/rabbitmq-env.conf",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{folder}/enabled_plugins",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    async def _run(self, script: str, *args: str, timeout: float = START_TIMEOUT_S) -> str:
        process = await asyncio.create_subprocess_exec(
            str(self.scripts / script),
            *args,
            env=self.environment(),
            cwd=self.directory,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        async with asyncio.timeout(timeout):
            output, _ = await process.communicate()
        text = output.decode(errors="replace")
        if process.returncode != 0:
            raise RuntimeError(f"{script} {' '.join(args)} failed ({process.returncode}): {text}")
        return text

    async def start(self) -> None:
        self.pid_file.unlink(missing_ok=True)
        await self._run("rabbitmq-server", "-detached")
        try:
            await self._run(
                "rabbitmqctl", "-n", self.node, "wait", "--timeout", "60", str(self.pid_file)
            )
        finally:
            if self.pid_file.exists():  # so a node that failed to boot is still stopped
                self._pid = int(self.pid_file.read_text().strip())
        self.starts += 1

    async def stop(self) -> None:
        """A graceful stop (`rabbitmqctl stop`), until the node's process is gone."""
        await self._run("rabbitmqctl", "-n", self.node, "stop")
        await self._gone()
        self.stops += 1

    async def kill(self) -> None:
        """SIGKILL the node: a crash, nothing flushed on the way out."""
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
        await self._gone()
        self.kills += 1

    async def _gone(self) -> None:
        pid = self._pid

        async def exited() -> bool:
            if pid is None:
                return True
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

        await wait_until(exited, timeout=60, interval=0.05, what=f"{self.node} to exit")
        self._pid = None

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, scripts: Path, directory: Path) -> AsyncIterator[BrokerNode]:
        node = cls(scripts, directory)
        try:
            await node.start()
            yield node
        finally:
            if node._pid is not None:
                try:
                    await node.stop()
                except (RuntimeError, TimeoutError, AssertionError):
                    await node.kill()
