"""Topology names, queue arguments and the broker versions known to misbehave."""

from __future__ import annotations

from producers.topology import Topology, broker_warnings


def test_names_follow_the_design() -> None:
    topology = Topology(prefix="porch", partitions=16, delivery_limit=20)
    assert topology.exchange == "porch.intents"
    assert topology.queue(0) == "porch.intents.p00"
    assert topology.queue(15) == "porch.intents.p15"
    assert topology.dead_letter_exchange == "porch.intents.dlx"
    assert topology.dead_letter_queue == "porch.intents.dead"


def test_partition_queues_are_quorum_single_active_with_a_delivery_limit() -> None:
    arguments = Topology(prefix="porch", partitions=2, delivery_limit=20).queue_arguments()
    assert arguments == {
        "x-queue-type": "quorum",
        "x-single-active-consumer": True,
        "x-delivery-limit": 20,
        "x-dead-letter-exchange": "porch.intents.dlx",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def test_no_warning_for_quorum_queues_with_a_delivery_limit() -> None:
    assert broker_warnings("3.10.8", delivery_limit=20) == []
    assert broker_warnings("4.1.0", delivery_limit=0) == []


def test_warns_for_quorum_without_delivery_limit_on_3_10_to_3_13() -> None:
    for version in ("3.10.0", "3.12.14", "3.13.7"):
        (warning,) = broker_warnings(version, delivery_limit=0)
        assert "x-delivery-limit" in warning


def test_warns_for_classic_single_active_consumer_before_3_10_13() -> None:
    (warning,) = broker_warnings("3.10.8", queue_type="classic")
    assert "3.10.13" in warning
    assert broker_warnings("3.10.13", queue_type="classic") == []


def test_an_unreadable_version_is_reported() -> None:
    (warning,) = broker_warnings("rabbit-next")
    assert "cannot read" in warning
