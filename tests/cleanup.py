"""Delete the broker queues that earlier test runs left behind (a killed run skips teardown).

`rabbitmqctl -q list_queues name | python -m tests.cleanup` deletes the queues whose names
follow the tests' prefixes (`t` and ten hex digits, optionally a deployment suffix). Run by
.ci/run before the suite, never by the tests: another test session may own such queues.
"""

from __future__ import annotations

import asyncio
import re
import sys

import aio_pika

from messages.settings import load_settings

TEST_QUEUE = re.compile(r"^t[0-9a-f]{10}[a-z]?\.")


async def delete(names: list[str]) -> None:
    connection = await aio_pika.connect(load_settings().amqp_url, timeout=30)
    async with connection:
        channel = await connection.channel()
        for name in names:
            await channel.queue_delete(name)


def main() -> int:
    names = [line.split()[0] for line in sys.stdin if line.strip() and TEST_QUEUE.match(line)]
    asyncio.run(delete(names))
    print(f"deleted {len(names)} queue(s) left by earlier test runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
