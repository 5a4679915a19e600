"""The publishing side: a confirmed publisher and its server and render faces."""

from producers.errors import (
    Nacked,
    OutcomeTimeout,
    ProducerError,
    PublishError,
    PublishRefused,
    PublishTimeout,
    TopologyError,
    TopologyMismatch,
    Unroutable,
)
from producers.publisher import Publisher
from producers.render import RenderProducer
from producers.server import ServerProducer
from producers.topology import Topology, declare

__all__ = [
    "Nacked",
    "OutcomeTimeout",
    "ProducerError",
    "PublishError",
    "PublishRefused",
    "PublishTimeout",
    "Publisher",
    "RenderProducer",
    "ServerProducer",
    "Topology",
    "TopologyError",
    "TopologyMismatch",
    "Unroutable",
    "declare",
]
