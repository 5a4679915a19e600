"""A corpus of bad deliveries, each with the reason the writer must give.

Every case is published raw (aio-pika, not the producers, which refuse most of these before
they leave), to the partition of the packages the corpus writes, right after the one before.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from messages import Lifecycle, Limits, RejectReason, encode_intent
from messages.envelope import Received, log_id, reused_id
from messages.intents import Intent
from messages.partition import partition_of
from tests.factories import (
    KPTFILE,
    make_create,
    make_delete,
    make_lifecycle,
    make_metadata,
    make_publish,
    make_push,
    make_render,
)

R = RejectReason
LIMITS = Limits(max_key_bytes=128, max_value_bytes=4096, max_resources=32, max_intent_bytes=65536)
"""The writer's limits in the bad-input test: small, so oversize cases stay cheap."""
USER = "guest"
"""The broker user of the test (the only one whose user_id the broker lets through)."""
FORGED_USER = "porch-admin"


@dataclass(frozen=True)
class Packages:
    """Four packages of one namespace that share one partition, so a good intent after each
    bad one shows that partition goes on."""

    namespace: str
    draft: str
    """A Draft with a Kptfile: the good pushes after each case write it."""
    published: str
    """Published, revision 1."""
    no_kptfile: str
    """Proposed, without a Kptfile."""
    unknown: str
    """Never created."""
    partition: int

    @classmethod
    def sharing_a_partition(cls, namespace: str, partitions: int) -> Packages:
        by_partition: dict[int, list[str]] = {}
        index = 0
        while True:
            name = f"repo.bad{index}"
            found = by_partition.setdefault(partition_of(f"{namespace}/{name}", partitions), [])
            found.append(name)
            if len(found) == 4:
                draft, published, no_kptfile, unknown = found
                partition = partition_of(f"{namespace}/{name}", partitions)
                return cls(namespace, draft, published, no_kptfile, unknown, partition)
            index += 1

    @staticmethod
    def revision(package: str) -> str:
        return f"{package}.ws"


@dataclass
class Case:
    name: str
    reason: RejectReason | None
    """The outcome's reason; None when the broker itself refuses the publish."""
    body: bytes
    properties: dict[str, Any]
    prelude: Intent | None = None
    """Published (and applied) first: the intent whose id the case reuses."""
    reply: bool = True
    intent: Intent | None = None
    """The intent behind the delivery, when it has one."""
    log_key: UUID = field(init=False)
    """Where the intent log must record the case."""

    def __post_init__(self) -> None:
        received = Received(
            body=self.body,
            content_type=self.properties.get("content_type"),
            message_id=self.properties.get("message_id"),
        )
        self.log_key = log_id(received)
        if self.reason is RejectReason.ID_REUSED:
            self.log_key = reused_id(self.log_key, self.body)


def properties_of(intent: Intent, **changes: Any) -> dict[str, Any]:
    envelope = encode_intent(intent)
    properties: dict[str, Any] = {
        "content_type": envelope.content_type,
        "message_id": envelope.message_id,
        "type": envelope.type,
        "user_id": USER,
        "headers": dict(envelope.headers),
    }
    properties.update(changes)
    return properties


def raw(intent: Intent) -> dict[str, Any]:
    return json.loads(encode_intent(intent).body)  # type: ignore[no-any-return]


def body_with(intent: Intent, **changes: Any) -> bytes:
    """The intent's JSON with fields changed; a value of `...` removes the field."""
    fields = raw(intent)
    for key, value in changes.items():
        if value is ...:
            fields.pop(key, None)
        else:
            fields[key] = value
    return json.dumps(fields).encode()


def corpus(packages: Packages) -> list[Case]:
    ns = packages.namespace
    draft, pub = packages.draft, packages.published
    rev = packages.revision

    def push(resources: dict[str, str] | None = None, **kw: Any) -> Intent:
        return make_push(ns, draft, rev(draft), resources or {"Kptfile": KPTFILE}, **kw)

    def case(
        name: str,
        reason: RejectReason | None,
        intent: Intent,
        body: bytes | None = None,
        **props: Any,
    ) -> Case:
        """The delivery of `intent` (or of another body under its properties), props changed."""
        body = encode_intent(intent).body if body is None else body
        return Case(name, reason, body, properties_of(intent, **props), intent=intent)

    def changed(
        name: str, reason: RejectReason, make: Callable[[], Intent], **changes: Any
    ) -> Case:
        intent = make()
        return case(name, reason, intent, body_with(intent, **changes))

    def valid(name: str, reason: RejectReason, intent: Intent) -> Case:
        return case(name, reason, intent)

    def garbage(name: str, reason: RejectReason, body: bytes) -> Case:
        return case(name, reason, push(), body, message_id=str(uuid.uuid4()))

    def key(name: str, bad_key: str) -> Case:
        return changed(name, R.UNSAFE_KEY, push, resources={bad_key: "x", "Kptfile": KPTFILE})

    reused = make_metadata(ns, draft, rev(draft), meta='{"first": true}')
    cases = [
        # -- not an intent at all ---------------------------------------------------------------
        garbage("not JSON", R.INVALID_JSON, b"this is not json"),
        garbage("not UTF-8", R.INVALID_JSON, b"\xff\xfe{\x00}"),
        garbage("empty body", R.INVALID_JSON, b""),
        garbage("truncated JSON", R.INVALID_JSON, encode_intent(push()).body[:40]),
        garbage("JSON array", R.INVALID_INTENT, b"[1, 2, 3]"),
        garbage("JSON string", R.INVALID_INTENT, b'"resources_update"'),
        garbage("JSON null", R.INVALID_INTENT, b"null"),
        garbage("nested 30000 deep", R.INVALID_JSON, b"[" * 30_000),
        garbage("integer of 5000 digits", R.INVALID_JSON, b'{"a": ' + b"9" * 5000 + b"}"),
        case("wrong content type", R.INVALID_CONTENT_TYPE, push(), content_type="text/plain"),
        case("no content type", R.INVALID_CONTENT_TYPE, push(), content_type=None),
        # -- kind, fields and types -------------------------------------------------------------
        changed("unknown kind", R.UNKNOWN_KIND, push, kind="package_explode"),
        changed("kind missing", R.UNKNOWN_KIND, push, kind=...),
        changed("resources missing", R.INVALID_INTENT, push, resources=...),
        changed("intent_id missing", R.INVALID_INTENT, push, intent_id=...),
        changed("extra field", R.INVALID_INTENT, push, surprise=1),
        changed("extra field named with a NUL", R.INVALID_INTENT, push, **{"sur\x00prise": 1}),
        changed("resources as a list", R.INVALID_INTENT, push, resources=["Kptfile"]),
        changed("resource value a number", R.INVALID_INTENT, push, resources={"Kptfile": 1}),
        changed("expected_version a string", R.INVALID_INTENT, push, expected_version="abc"),
        changed("expected_version negative", R.INVALID_INTENT, push, expected_version=-1),
        changed("namespace a number", R.INVALID_INTENT, push, namespace=42),
        changed("namespace not a DNS label", R.INVALID_INTENT, push, namespace="Not_A_Label"),
        changed("revision name of 300 characters", R.INVALID_INTENT, push, revision_name="r" * 300),
        changed(
            "issued_at without a time zone", R.INVALID_INTENT, push, issued_at="2024-01-01T00:00:00"
        ),
        changed("intent_id of NUL characters", R.INVALID_INTENT, push, intent_id="\x00" * 36),
        changed("producer role unknown", R.INVALID_INTENT, push, producer="admin"),
        changed(
            "lifecycle value unknown",
            R.INVALID_INTENT,
            lambda: make_lifecycle(ns, draft, rev(draft), Lifecycle.PROPOSED),
            lifecycle="Archived",
        ),
        changed(
            "meta not JSON text",
            R.INVALID_INTENT,
            lambda: make_metadata(ns, draft, rev(draft), meta="{}"),
            meta="{oops",
        ),
        changed(
            "meta nested 30000 deep",
            R.INVALID_JSON,
            lambda: make_metadata(ns, draft, rev(draft), meta="{}"),
            meta="[" * 30_000,
        ),
        changed(
            "text with a lone surrogate",
            R.INVALID_INTENT,
            lambda: make_metadata(ns, draft, rev(draft), meta="{}"),
            meta='"\ud800"',
        ),
        changed(
            "render_request of 300 characters",
            R.INVALID_INTENT,
            lambda: make_render(ns, draft, rev(draft), {"Kptfile": KPTFILE}, 1),
            render_request="r" * 300,
        ),
        # -- schema versions --------------------------------------------------------------------
        changed(
            "schema version from the future", R.UNSUPPORTED_SCHEMA_VERSION, push, schema_version=2
        ),
        changed("schema version 99", R.UNSUPPORTED_SCHEMA_VERSION, push, schema_version=99),
        changed("schema version 0", R.INVALID_INTENT, push, schema_version=0),
        # -- sizes ------------------------------------------------------------------------------
        changed(
            "value over the size limit",
            R.TOO_LARGE,
            push,
            resources={"Kptfile": "x" * (LIMITS.max_value_bytes + 1)},
        ),
        changed(
            "too many resources",
            R.TOO_LARGE,
            push,
            resources={f"r{i}.yaml": "x" for i in range(LIMITS.max_resources + 1)},
        ),
        changed(
            "intent over the size limit",
            R.TOO_LARGE,
            push,
            resources={f"r{i}.yaml": "x" * 4000 for i in range(20)},
        ),
        key("key over the size limit", "k" * (LIMITS.max_key_bytes + 1)),
        # -- unsafe resource keys ---------------------------------------------------------------
        key("key ../x", "../x"),
        key("key a/../../etc/passwd", "a/../../etc/passwd"),
        key("key /etc/passwd", "/etc/passwd"),
        key("key with a NUL", "a\x00b"),
        key("key with an escape sequence", "\x1b[31mred"),
        key("key with a newline", "a\nb"),
        key("empty key", ""),
        key("key with a backslash", "a\\b"),
        key("key a//b", "a//b"),
        key("key ./x", "./x"),
        changed("key with a lone surrogate", R.INVALID_INTENT, push, resources={"\udc00": "x"}),
        # -- the database refuses the data --------------------------------------------------------
        valid(
            "NUL inside a resource value",
            R.CONSTRAINT_VIOLATION,
            push({"Kptfile": KPTFILE, "a.yaml": "a\x00b"}),
        ),
        # -- porch's rules ------------------------------------------------------------------------
        valid(
            "lifecycle Draft to Published",
            R.INVALID_TRANSITION,
            make_lifecycle(ns, draft, rev(draft), Lifecycle.PUBLISHED),
        ),
        valid(
            "lifecycle Published to Draft",
            R.INVALID_TRANSITION,
            make_lifecycle(ns, pub, rev(pub), Lifecycle.DRAFT),
        ),
        valid("publish a Draft", R.INVALID_TRANSITION, make_publish(ns, draft, rev(draft))),
        valid(
            "publish without a Kptfile",
            R.KPTFILE_MISSING,
            make_publish(ns, packages.no_kptfile, rev(packages.no_kptfile)),
        ),
        valid(
            "render for a Published revision",
            R.NOT_DRAFT,
            make_render(ns, pub, rev(pub), {"Kptfile": KPTFILE}, 1),
        ),
        valid(
            "push to a Published revision",
            R.NOT_DRAFT,
            make_push(ns, pub, rev(pub), {"Kptfile": KPTFILE}),
        ),
        valid("delete a Published revision", R.INVALID_TRANSITION, make_delete(ns, pub, rev(pub))),
        valid(
            "push to an unknown package",
            R.UNKNOWN_REVISION,
            make_push(ns, packages.unknown, rev(packages.unknown), {"Kptfile": KPTFILE}),
        ),
        valid(
            "push naming another package's revision",
            R.UNKNOWN_REVISION,
            make_push(ns, draft, rev(pub), {"Kptfile": KPTFILE}),
        ),
        valid(
            "create in an unknown repository",
            R.UNKNOWN_REPOSITORY,
            make_create(ns, packages.unknown, rev(packages.unknown), repository="nope"),
        ),
        valid("create an existing revision", R.ALREADY_EXISTS, make_create(ns, draft, rev(draft))),
        # -- the envelope and the producer ----------------------------------------------------
        case("no user_id", R.FORBIDDEN, push(), user_id=None),
        case("forged user_id", None, push(), user_id=FORGED_USER),
        case(
            "message_id is not the intent_id",
            R.INCONSISTENT_ENVELOPE,
            push(),
            message_id=str(uuid.uuid4()),
        ),
        case("type is not the kind", R.INCONSISTENT_ENVELOPE, push(), type="render_result"),
        case(
            "package header is another package",
            R.INCONSISTENT_ENVELOPE,
            push(),
            headers={"x-package-key": f"{ns}/{pub}"},
        ),
        Case(
            "intent id reused for another body",
            R.ID_REUSED,
            body_with(reused, meta='{"second": true}'),
            properties_of(reused),
            prelude=reused,
            intent=reused,
        ),
    ]
    unknown = make_push(ns, packages.unknown, rev(packages.unknown), {})
    cases.append(
        Case(
            "no reply address",
            R.UNKNOWN_REVISION,
            encode_intent(unknown).body,
            properties_of(unknown),
            reply=False,
            intent=unknown,
        )
    )
    return cases
