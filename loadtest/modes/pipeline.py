"""The pipeline: every write is an intent through the producers, applied by the writer daemon.

Server actors share one Publisher and render actors another, as porch's API server and its
controller would each hold one connection. Every write waits for its outcome. Reads go to the
database directly, as porch reads its cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence

from loadtest.errors import SetupError
from loadtest.ledger import Result, Status
from loadtest.modes import NewRevision
from loadtest.modes.database import DatabaseBackend
from loadtest.workload import Names
from messages.errors import IntentRejected
from messages.fields import Lifecycle
from messages.outcomes import Applied, Duplicate, Outcome, Rejected
from messages.settings import Settings
from producers import OutcomeTimeout, Publisher, PublishError, RenderProducer, ServerProducer

SETUP_CONCURRENCY = 64

_STATUS = {
    "applied": Status.APPLIED,
    "stale": Status.STALE,
    "conflict": Status.CONFLICT,
    "rejected": Status.REJECTED,
    "dead_lettered": Status.ERROR,
}


def result_of(outcome: Outcome) -> Result:
    final = outcome.original if isinstance(outcome, Duplicate) else outcome
    status = Status.DUPLICATE if isinstance(outcome, Duplicate) else _STATUS[final.status]
    return Result(
        status,
        version=final.version if isinstance(final, Applied) else None,
        intent_id=outcome.intent_id,
        detail=str(final.reason) if isinstance(final, Rejected) else None,
    )


async def outcome_of(call: Awaitable[Outcome]) -> Result:
    """The write's result; the intent id is known in every case, confirmed or not."""
    try:
        return result_of(await call)
    except OutcomeTimeout as error:
        return Result(Status.TIMEOUT, intent_id=error.intent_id, detail=str(error))
    except PublishError as error:
        return Result(
            Status.UNCONFIRMED, intent_id=error.intent_id, confirmed=False, detail=str(error)
        )
    except IntentRejected as error:
        # Refused by the producer before publishing (a limit): never on the wire.
        return Result(Status.REJECTED, confirmed=False, detail=str(error.reason))


class PipelineBackend(DatabaseBackend):
    def __init__(self, settings: Settings, names: Names, pool_size: int) -> None:
        super().__init__(settings.database_url, names, pool_size)
        self._server_publisher = Publisher(settings, name="porch-loadtest-server")
        self._render_publisher = Publisher(settings, name="porch-loadtest-render")
        self._server = ServerProducer(self._server_publisher)
        self._render = RenderProducer(self._render_publisher)
        self._requests = 0

    async def start(self) -> None:
        await super().start()
        await self._server_publisher.start()
        await self._render_publisher.start()

    async def close(self) -> None:
        await self._server_publisher.close()
        await self._render_publisher.close()
        await super().close()

    async def setup(self, revisions: Sequence[NewRevision]) -> list[Result]:
        registered = await outcome_of(
            self._server.register_repository(
                self.names.namespace, self.names.repository, default_ws_name="main"
            )
        )
        if registered.status is not Status.APPLIED:
            raise SetupError(f"registering the repository failed: {registered}")
        gate = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def create(item: NewRevision) -> Result:
            async with gate:
                return await self.create_draft(item)

        return list(await asyncio.gather(*(create(item) for item in revisions)))

    async def push(
        self, package: int, revision: str, resources: Mapping[str, str], expected: int | None
    ) -> Result:
        return await outcome_of(
            self._server.update_resources(
                self.names.namespace,
                self.names.package(package),
                revision,
                dict(resources),
                expected_version=expected,
            )
        )

    async def render(
        self, package: int, revision: str, resources: Mapping[str, str], base_version: int
    ) -> Result:
        self._requests += 1
        return await outcome_of(
            self._render.write_back(
                self.names.namespace,
                self.names.package(package),
                revision,
                dict(resources),
                base_version=base_version,
                render_request=f"loadtest-{self._requests}",
            )
        )

    async def lifecycle(self, package: int, revision: str, target: str) -> Result:
        return await outcome_of(
            self._server.change_lifecycle(
                self.names.namespace, self.names.package(package), revision, Lifecycle(target)
            )
        )

    async def publish(self, package: int, revision: str) -> Result:
        return await outcome_of(
            self._server.publish(self.names.namespace, self.names.package(package), revision)
        )

    async def create_draft(self, draft: NewRevision) -> Result:
        return await outcome_of(
            self._server.create_revision(
                self.names.namespace,
                self.names.package(draft.package),
                draft.revision,
                repository=self.names.repository,
                package_path=self.names.package_path(draft.package),
                resources=dict(draft.resources),
            )
        )
