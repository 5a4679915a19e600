"""The partition function of the wire contract.

`jump_consistent_hash(fnv1a_64(utf8("<namespace>/<package>")), N)`: both halves are short and
exactly specified, so producers in any language can compute the same partition (Go has
`hash/fnv`). Golden vectors in tests/unit/test_partition.py pin the result.
"""

from __future__ import annotations

_MASK64 = (1 << 64) - 1
_FNV64_OFFSET = 0xCBF29CE484222325
_FNV64_PRIME = 0x100000001B3
_JUMP_MULTIPLIER = 2862933555777941757
MAX_PARTITIONS = 1024


def fnv1a_64(data: bytes) -> int:
    """FNV-1a, 64 bits, as Go's hash/fnv New64a."""
    value = _FNV64_OFFSET
    for byte in data:
        value ^= byte
        value = (value * _FNV64_PRIME) & _MASK64
    return value


def jump_consistent_hash(key: int, buckets: int) -> int:
    """Lamping and Veach's jump consistent hash; growing N moves only 1/N of the keys."""
    if buckets < 1:
        raise ValueError(f"buckets must be at least 1, got {buckets}")
    if not 0 <= key <= _MASK64:
        raise ValueError("key must be an unsigned 64-bit integer")
    bucket, jump = -1, 0
    while jump < buckets:
        bucket = jump
        key = (key * _JUMP_MULTIPLIER + 1) & _MASK64
        # float64 arithmetic, exactly as the reference implementation.
        jump = int((bucket + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return bucket


def package_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def partition_of(key: str, partitions: int) -> int:
    """The partition of a package key `<namespace>/<package>`."""
    return jump_consistent_hash(fnv1a_64(key.encode("utf-8")), partitions)


def partition_name(index: int) -> str:
    """`p00` .. `p99`, then `p100` ..: the queue-name suffix and routing key of a partition."""
    return f"p{index:02d}"


def package_lock_key(key: str) -> int:
    """A signed 64-bit advisory-lock key for a package (PostgreSQL's bigint is signed)."""
    value = fnv1a_64(key.encode("utf-8"))
    return value - (1 << 64) if value >= (1 << 63) else value
