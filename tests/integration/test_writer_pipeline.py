"""The whole pipeline on real services: producers -> RabbitMQ -> writer -> PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import aio_pika
import asyncpg
import pytest

from messages import (
    Applied,
    Duplicate,
    Intent,
    Lifecycle,
    Rejected,
    RejectReason,
    Stale,
    encode_intent,
)
from messages.settings import Settings
from producers import Publisher, RenderProducer, ServerProducer, Topology, declare
from tests.factories import KPTFILE, make_push, make_repository_remove, sample_resources
from tests.pipeline import consuming, drain, producers, resources_of, running_writer
from tests.waiting import wait_until
from writer.actor import PartitionActor

NS, REPO = "ns", "repo"


def render_of(resources: dict[str, str]) -> dict[str, str]:
    """A deterministic 'render': every resource but the Kptfile gets a rendered marker."""
    return {k: v if k == "Kptfile" else v + "# rendered\n" for k, v in resources.items()}


async def test_every_kind_of_write_goes_through(settings: Settings, db: asyncpg.Connection) -> None:
    async with running_writer(settings), producers(settings) as (server, render):
        assert (await server.register_repository(NS, REPO, directory="/")).status == "applied"
        assert (await server.update_repository(NS, REPO, meta="{}", spec="{}")).status == "applied"
        created = await server.create_revision(
            NS,
            "repo.a",
            "repo.a.ws",
            repository=REPO,
            package_path="a",
            resources=sample_resources(),
        )
        assert isinstance(created, Applied)
        pushed = await server.update_resources(
            NS,
            "repo.a",
            "repo.a.ws",
            sample_resources(extra__yaml="x: 1\n"),
            expected_version=created.version,
        )
        assert isinstance(pushed, Applied)
        rendered = await render.write_back(
            NS,
            "repo.a",
            "repo.a.ws",
            render_of(sample_resources(extra__yaml="x: 1\n")),
            base_version=pushed.version or 0,
            render_request="r1",
        )
        assert isinstance(rendered, Applied)
        meta = await server.set_metadata(NS, "repo.a", "repo.a.ws", meta='{"labels":{}}')
        assert meta.status == "applied"
        proposed = await server.change_lifecycle(NS, "repo.a", "repo.a.ws", Lifecycle.PROPOSED)
        assert proposed.status == "applied"
        published = await server.publish(NS, "repo.a", "repo.a.ws")
        assert isinstance(published, Applied)
        assert published.revision == 1
        placeholder = await server.upsert_placeholder(
            NS,
            "repo.a",
            "repo.a.main",
            repository=REPO,
            package_path="a",
            resources=sample_resources(),
        )
        assert placeholder.status == "applied"
        synced = await server.sync_external_revision(
            NS,
            "repo.b",
            "repo.b.v3",
            repository=REPO,
            package_path="b",
            revision=3,
            resources=sample_resources(),
        )
        assert synced.status == "applied"
        deleted = await server.delete_revision(NS, "repo.a", "repo.a.main")
        assert deleted.status == "applied"
        removed = await server.remove_repository(NS, REPO)
        assert removed.status == "applied"
    assert await db.fetchval("SELECT count(*) FROM repositories") == 0
    logged = await db.fetch("SELECT kind, status FROM intent_log ORDER BY seq")
    assert len({row["kind"] for row in logged}) == 12
    assert {row["status"] for row in logged} == {"applied"}


async def _render_and_push_race(
    server: ServerProducer, render: RenderProducer, package: str, pushed: dict[str, str]
) -> tuple[str, str]:
    """The reported bug: an initial render's write-back and a push land within 100 ms."""
    revision = f"{package}.ws"
    created = await server.create_revision(
        NS,
        package,
        revision,
        repository=REPO,
        package_path=package,
        resources=sample_resources(),
        requests_render=True,
    )
    assert isinstance(created, Applied)
    first_render, push = await asyncio.gather(
        render.write_back(
            NS,
            package,
            revision,
            render_of(sample_resources()),
            base_version=created.version or 0,
            render_request=f"{package}-initial",
        ),
        server.update_resources(NS, package, revision, pushed),
    )
    assert isinstance(push, Applied)
    # The controller re-renders what it reads now.
    again = await render.write_back(
        NS,
        package,
        revision,
        render_of(pushed),
        base_version=push.version or 0,
        render_request=f"{package}-after-push",
    )
    return first_render.status, again.status


async def test_the_reported_race_never_mixes_or_empties_a_package(
    settings: Settings, db: asyncpg.Connection
) -> None:
    packages = [f"repo.race-{index:03d}" for index in range(200)]
    pushes = {
        package: {"Kptfile": KPTFILE, "cm.yaml": f"data: {package}\n", "new.yaml": "added: 1\n"}
        for package in packages
    }
    async with running_writer(settings), producers(settings) as (server, render):
        await server.register_repository(NS, REPO)
        semaphore = asyncio.Semaphore(50)

        async def one(package: str) -> tuple[str, str]:
            async with semaphore:
                return await _render_and_push_race(server, render, package, pushes[package])

        results = await asyncio.gather(*(one(package) for package in packages))
    assert {first for first, _ in results} <= {"applied", "stale"}
    for package in packages:
        final = await resources_of(db, NS, f"{package}.ws")
        assert final in (pushes[package], render_of(pushes[package])), package
        assert final["Kptfile"] == KPTFILE
        assert all(value for value in final.values())


async def test_a_stale_render_is_refused_and_writes_nothing(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with running_writer(settings), producers(settings) as (server, render):
        await server.register_repository(NS, REPO)
        created = await server.create_revision(
            NS,
            "repo.s",
            "repo.s.ws",
            repository=REPO,
            package_path="s",
            resources=sample_resources(),
        )
        assert isinstance(created, Applied)
        await server.update_resources(NS, "repo.s", "repo.s.ws", sample_resources(b__yaml="b\n"))
        stale = await render.write_back(
            NS,
            "repo.s",
            "repo.s.ws",
            render_of(sample_resources()),
            base_version=created.version or 0,
            render_request="old",
        )
    assert isinstance(stale, Stale)
    assert await resources_of(db, NS, "repo.s.ws") == sample_resources(b__yaml="b\n")


async def test_a_redelivered_intent_is_answered_with_its_first_outcome(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with running_writer(settings), Publisher(settings) as publisher:
        intent = make_push(NS, "repo.none", "repo.none.ws", sample_resources())
        first = await publisher.request(intent)
        again = await publisher.request(intent)
    assert isinstance(first, Rejected)
    assert first.reason is RejectReason.UNKNOWN_REVISION
    assert again == Duplicate(intent_id=intent.intent_id, original=first)
    assert await db.fetchval("SELECT count(*) FROM intent_log") == 1


async def _publish_raw(
    settings: Settings, amqp: aio_pika.abc.AbstractConnection, body: bytes, **properties: object
) -> None:
    topology = Topology.from_settings(settings)
    channel = await amqp.channel()
    exchange = await channel.get_exchange(topology.exchange)
    await exchange.publish(
        aio_pika.Message(body, **properties),  # type: ignore[arg-type]
        routing_key=topology.routing_key(0),
    )


async def test_bad_deliveries_are_recorded_and_the_partition_goes_on(
    settings: Settings, db: asyncpg.Connection, amqp: aio_pika.abc.AbstractConnection
) -> None:
    async with Publisher(settings) as publisher:  # declares the topology
        reply_queue = await (await amqp.channel()).declare_queue(exclusive=True)
        await _publish_raw(
            settings,
            amqp,
            b"not json",
            content_type="application/json",
            message_id="garbage-1",
            user_id="guest",
            reply_to=reply_queue.name,
        )
        good = make_push(NS, "repo.p", "repo.p.ws", sample_resources())
        envelope = encode_intent(good)
        await _publish_raw(
            settings,
            amqp,
            envelope.body,
            content_type="application/json",
            message_id=envelope.message_id,
            type=envelope.type,
            headers=envelope.headers,
        )  # no user_id: not vouched for
        await publisher.publish(good.model_copy(update={"intent_id": uuid.uuid4()}))
    await drain(settings)
    rows = await db.fetch("SELECT kind, status, reason FROM intent_log ORDER BY seq")
    # The last one may be on another partition than the raw ones: compare without order.
    assert sorted((row["status"], row["reason"]) for row in rows) == [
        ("rejected", "forbidden"),
        ("rejected", "invalid_json"),
        ("rejected", "unknown_revision"),
    ]
    async with asyncio.timeout(10), reply_queue.iterator(no_ack=True) as replies:
        async for reply in replies:
            assert reply.correlation_id == "garbage-1"
            assert b'"invalid_json"' in reply.body
            break


async def test_producer_roles_forbid_kinds_outside_a_role(
    settings: Settings, db: asyncpg.Connection
) -> None:
    render_only = settings.model_copy(update={"producer_roles": {"guest": ["render"]}})
    async with running_writer(render_only), producers(render_only) as (server, _):
        outcome = await server.register_repository(NS, REPO)
    assert isinstance(outcome, Rejected)
    assert outcome.reason is RejectReason.FORBIDDEN
    assert "may not send 'repository_register'" in outcome.message
    assert await db.fetchval("SELECT count(*) FROM repositories") == 0


async def test_per_package_order_is_publish_order(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with producers(settings) as (server, _):
        await server._publisher.publish(make_push(NS, "repo.o", "repo.o.ws", sample_resources()))
    intents = [
        make_push(NS, f"repo.o{index % 5}", f"repo.o{index % 5}.ws", sample_resources())
        for index in range(100)
    ]
    async with Publisher(settings) as publisher:
        for intent in intents:
            await publisher.publish(intent)
    await drain(settings)
    logged = [
        row["intent_id"] for row in await db.fetch("SELECT intent_id FROM intent_log ORDER BY seq")
    ]
    for package in {intent.package for intent in intents}:
        mine = [i.intent_id for i in intents if i.package == package]
        assert [i for i in logged if i in set(mine)] == mine


async def test_a_consumer_cancelled_by_the_broker_is_restarted(
    settings: Settings, db: asyncpg.Connection, amqp: aio_pika.abc.AbstractConnection
) -> None:
    topology = Topology.from_settings(settings)
    intent = make_push(NS, "repo.c", "repo.c.ws", sample_resources())
    partition = topology.partition_of(intent.partition_key)
    async with running_writer(settings) as writer, Publisher(settings) as publisher:
        await consuming(writer)
        actor = writer.actors[partition]
        channel = await amqp.channel()
        await channel.queue_delete(topology.queue(partition))  # the broker cancels the consumer
        await wait_until(_not_consuming(actor), timeout=10, what="the actor to notice")
        await declare(amqp, topology)  # an operator restores the queue
        outcome = await publisher.request(intent, timeout=30)
    assert isinstance(outcome, Rejected)  # answered: the partition consumes again
    assert actor.stats.restarts >= 1


def _not_consuming(actor: PartitionActor) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return not actor.consuming.is_set()

    return probe


@pytest.mark.parametrize("limit", [2])
async def test_a_poison_intent_is_dead_lettered_listed_and_replayed(
    settings: Settings,
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    limit: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from writer import apply, dlq  # noqa: PLC0415 - patched below

    limited = settings.model_copy(update={"delivery_limit": limit})
    original = apply.HANDLERS["repository_register"]

    async def crash(*args: object, **kwargs: object) -> object:
        raise RuntimeError("poison")

    monkeypatch.setitem(apply.HANDLERS, "repository_register", crash)
    async with running_writer(limited), producers(limited) as (server, _):
        outcome = await server.register_repository(NS, REPO)
    assert outcome.status == "dead_lettered"
    assert await dlq.print_list(limited, as_json=True, include_replayed=False) == 0
    listed = capsys.readouterr().out
    assert str(outcome.intent_id) in listed
    assert "delivery_limit" in listed
    monkeypatch.setitem(apply.HANDLERS, "repository_register", original)
    assert await dlq.replay(limited, [str(outcome.intent_id)]) == 0
    await drain(limited)
    assert await db.fetchval("SELECT count(*) FROM repositories") == 1
    status = await db.fetchval(
        "SELECT status FROM intent_log WHERE intent_id = $1", outcome.intent_id
    )
    assert status == "applied"


async def test_deliveries_behind_a_poison_one_are_not_dead_lettered_with_it(
    settings: Settings, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from writer import apply  # noqa: PLC0415 - patched below

    one_queue = settings.model_copy(update={"delivery_limit": 3, "partitions": 1})

    async def crash(*args: object, **kwargs: object) -> object:
        raise RuntimeError("poison")

    monkeypatch.setitem(apply.HANDLERS, "repository_remove", crash)
    innocent = [
        make_push(NS, f"repo.i{index}", f"repo.i{index}.ws", sample_resources())
        for index in range(30)
    ]
    poison = make_repository_remove(NS, REPO)
    async with Publisher(one_queue) as publisher:  # all queued before the writer starts
        queued: list[Intent] = [*innocent[:10], poison, *innocent[10:]]
        for intent in queued:
            await publisher.publish(intent)
    await drain(one_queue)
    rows = await db.fetch("SELECT intent_id, status FROM intent_log")
    statuses = {row["intent_id"]: row["status"] for row in rows}
    assert statuses[poison.intent_id] == "dead_lettered"
    assert {statuses[intent.intent_id] for intent in innocent} == {"rejected"}  # all answered
