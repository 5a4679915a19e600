"""The render (controller) face: write a render result back, compare-and-set on its base."""

from __future__ import annotations

from messages.fields import ProducerRole
from messages.intents import RenderResult
from messages.outcomes import Outcome
from producers.publisher import Publisher
from producers.server import stamp


class RenderProducer:
    """Render write-back. `stale` means the revision changed since `base_version`: re-render."""

    def __init__(self, publisher: Publisher, *, timeout: float | None = None) -> None:
        self._publisher = publisher
        self._timeout = timeout

    async def write_back(
        self,
        namespace: str,
        package: str,
        revision_name: str,
        resources: dict[str, str],
        *,
        base_version: int,
        render_request: str,
        kptfile_status: str | None = None,
    ) -> Outcome:
        intent = RenderResult(
            **stamp(ProducerRole.RENDER),
            namespace=namespace,
            package=package,
            revision_name=revision_name,
            resources=resources,
            base_version=base_version,
            render_request=render_request,
            kptfile_status=kptfile_status,
        )
        return await self._publisher.request(intent, timeout=self._timeout)
