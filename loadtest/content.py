"""Package content: precomputed bodies, the write-id trailer, the render transform.

Every resource value is `<body># write: <write id>\\n`, so the content of a package names the
write (or writes, when corrupt) that produced it. A write's content is its `Bodies` (key and
body pairs) stamped with its id. Bodies are built once per package and variant, and rendered
bodies are cached, so a write costs little more than the string concatenations, and the ledger
keeps every write's exact content as references to shared strings.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

KPTFILE = "Kptfile"
TRAILER = "# write: "
VARIANTS = 4
"""Pushes cycle through variants; each has one file of its own, so key sets differ."""
RENDER_MARK = "    loadtest.porch.kpt.dev/rendered: 'true'\n"
_RENDER_CACHE_LIMIT = 200_000

Bodies = tuple[tuple[str, str], ...]
"""A write's content without its trailer: (resource key, body) pairs."""


@dataclass(frozen=True)
class Shape:
    packages: int = 200
    resources: int = 20
    value_bytes: int = 200

    def __post_init__(self) -> None:
        if self.packages < 1:
            raise ValueError("at least one package")
        if self.resources < 2:
            raise ValueError("at least two resources: the Kptfile and one more")
        if self.value_bytes < 100:
            raise ValueError("resource values of at least 100 bytes")


def package_label(index: int) -> str:
    return f"pkg-{index:04d}"


def trailer(write_id: str) -> str:
    return f"{TRAILER}{write_id}\n"


def split_value(value: str) -> tuple[str, str | None]:
    """(body, write id); the id is None when the value carries no trailer."""
    cut = value.rfind(TRAILER)
    if cut < 0 or not value.endswith("\n"):
        return value, None
    return value[:cut], value[cut + len(TRAILER) : -1]


def write_ids(resources: Mapping[str, str]) -> dict[str | None, int]:
    """How many resources each write id produced (None: values without a trailer)."""
    counts: dict[str | None, int] = {}
    for value in resources.values():
        write_id = split_value(value)[1]
        counts[write_id] = counts.get(write_id, 0) + 1
    return counts


def stamp(bodies: Iterable[tuple[str, str]], write_id: str) -> dict[str, str]:
    """The resources of one write: every body with this write's trailer."""
    tail = trailer(write_id)
    return {key: body + tail for key, body in bodies}


def _filler(length: int, seed: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[(seed * 7 + i * 13) % len(alphabet)] for i in range(max(length, 0)))


def kptfile_body(package: str, variant: int) -> str:
    return (
        "apiVersion: kpt.dev/v1\n"
        "kind: Kptfile\n"
        "metadata:\n"
        f"  name: {package}\n"
        "info:\n"
        f"  description: load test package {package}, variant {variant}\n"
        "pipeline:\n"
        "  mutators:\n"
        "    - image: gcr.io/kpt-fn/set-labels:v0.2.0\n"
    )


def resource_body(package: str, name: str, variant: int, value_bytes: int) -> str:
    head = (
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        f"  name: {name}\n"
        "  annotations:\n"
        f"    loadtest.porch.kpt.dev/package: {package}\n"
        "data:\n"
        f'  variant: "{variant}"\n'
        '  filler: "'
    )
    # The trailer adds ~20 bytes; the rest pads the value to about `value_bytes`.
    pad = value_bytes - len(head) - len('"\n') - 20
    return head + _filler(pad, zlib.crc32(f"{package}/{name}/{variant}".encode())) + '"\n'


class ContentBook:
    """The bodies of every package and variant, built once; writes only append trailers."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self._bodies: dict[tuple[int, int], tuple[tuple[str, str], ...]] = {}
        self._render_cache: dict[str, str] = {}
        self._interned: dict[Bodies, Bodies] = {}

    def bodies(self, package: int, variant: int) -> Bodies:
        cached = self._bodies.get((package, variant % VARIANTS))
        if cached is None:
            cached = self._build(package, variant % VARIANTS)
            self._bodies[(package, variant % VARIANTS)] = cached
        return cached

    def _build(self, package: int, variant: int) -> Bodies:
        label = package_label(package)
        size = self.shape.value_bytes
        files = [f"config/cm-{index:02d}.yaml" for index in range(self.shape.resources - 2)]
        files.append(f"variant/v{variant}.yaml")
        bodies = [(KPTFILE, kptfile_body(label, variant))]
        bodies += [(key, resource_body(label, key, variant, size)) for key in files]
        return tuple(bodies)

    def render(self, resources: Mapping[str, str]) -> Bodies:
        """The bodies of a render of `resources`: a deterministic transform, the Kptfile kept."""
        rendered = []
        for key, value in sorted(resources.items()):
            body = split_value(value)[0]
            rendered.append((key, body if key == KPTFILE else self._render_body(body)))
        bodies = tuple(rendered)
        # Interned: renders of the same content share one tuple, so the ledger stays small.
        return self._interned.setdefault(bodies, bodies)

    def _render_body(self, body: str) -> str:
        cached = self._render_cache.get(body)
        if cached is None:
            cached = render_body(body)
            if len(self._render_cache) >= _RENDER_CACHE_LIMIT:
                self._render_cache.clear()
                self._interned.clear()
            self._render_cache[body] = cached
        return cached


def render_body(body: str) -> str:
    """Marks a resource rendered (an annotation); idempotent, as a re-render must be."""
    if RENDER_MARK in body:
        return body
    anchor = "  annotations:\n"
    at = body.find(anchor)
    if at < 0:
        return body + "# rendered\n" if not body.endswith("# rendered\n") else body
    at += len(anchor)
    return body[:at] + RENDER_MARK + body[at:]
