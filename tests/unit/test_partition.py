"""The partition function: FNV-1a 64 then jump consistent hash, pinned by golden vectors.

The vectors were computed by tests/unit/golden/partition_reference.c, an independent C
implementation (the paper's jump hash, the FNV spec's FNV-1a), so a producer in another language
can check itself against the same table.
"""

from __future__ import annotations

import pytest

from messages.partition import (
    fnv1a_64,
    jump_consistent_hash,
    package_lock_key,
    partition_name,
    partition_of,
)

COUNTS = (1, 2, 7, 16, 64, 1024)

# key, fnv1a_64 (hex), partition for N = 1, 2, 7, 16, 64, 1024
GOLDEN = [
    ("default/blueprints.basens", "730a913013c1e6e1", (0, 1, 1, 1, 29, 590)),
    ("default/blueprints.empty", "933f5afc6f25ea68", (0, 0, 2, 14, 44, 652)),
    ("porch-demo/management.network-function", "9c93db92e8c37202", (0, 1, 1, 1, 60, 414)),
    ("a/b", "e620c3190468cf61", (0, 0, 6, 6, 63, 175)),
    ("ns/x", "4a7c84ba48dd9a69", (0, 1, 3, 3, 29, 432)),
    ("kube-system/repo.pkg", "e07aa380a4e0a87f", (0, 0, 6, 6, 36, 434)),
    ("team-a/edge.cluster-01", "22ff71054ab9cf4a", (0, 1, 4, 15, 19, 522)),
    ("team-a/edge.cluster-02", "22ff70054ab9cd97", (0, 1, 3, 9, 9, 913)),
    ("team-a/edge.cluster-03", "22ff6f054ab9cbe4", (0, 1, 2, 2, 52, 916)),
    ("prod/deployments.nginx", "b1c599973a133e01", (0, 1, 2, 2, 20, 71)),
    ("prod/deployments.redis", "5bacd6a2131e83da", (0, 1, 6, 6, 52, 117)),
    ("prod/deployments.postgres", "c59f4f1bc6f89a34", (0, 1, 2, 9, 9, 9)),
    ("staging/app.frontend", "5509b7fbcac6be34", (0, 1, 6, 14, 26, 928)),
    ("staging/app.backend", "edc3d6849c7802e8", (0, 1, 1, 8, 8, 972)),
    ("x/y", "becfa9197f2d6333", (0, 1, 1, 1, 38, 38)),
    ("ns-1/p-1", "15814e98941ce7ad", (0, 0, 5, 15, 32, 297)),
    ("ns-1/p-2", "15814b98941ce294", (0, 1, 6, 6, 30, 508)),
    ("ñamespace/paquete", "a642841ce3f64ef8", (0, 1, 1, 1, 19, 359)),
    ("默认/包", "aab563caa893d984", (0, 1, 3, 3, 34, 885)),
    ("ns/пакет", "614ff977ce91305c", (0, 1, 5, 5, 53, 526)),
    ("ns/📦-emoji", "b02884b68ca8fcc8", (0, 0, 4, 9, 56, 117)),
    ("münchen/straße.pkg", "f8c02bf4d4693e73", (0, 0, 5, 15, 60, 355)),
    ("/", "af63a24c860189fe", (0, 1, 5, 7, 50, 115)),
    ("0/0", "4e15d8181d07e210", (0, 1, 1, 1, 56, 849)),
]


@pytest.mark.parametrize(("key", "fnv", "partitions"), GOLDEN)
def test_golden_vectors(key: str, fnv: str, partitions: tuple[int, ...]) -> None:
    assert f"{fnv1a_64(key.encode('utf-8')):016x}" == fnv
    assert tuple(partition_of(key, count) for count in COUNTS) == partitions


def test_fnv1a_64_matches_the_specification_vectors() -> None:
    assert fnv1a_64(b"") == 0xCBF29CE484222325
    assert fnv1a_64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a_64(b"foobar") == 0x85944171F73967E8


def test_growing_the_partition_count_moves_keys_only_to_the_new_partition() -> None:
    keys = [fnv1a_64(f"ns/pkg-{index}".encode()) for index in range(5000)]
    before = [jump_consistent_hash(key, 16) for key in keys]
    after = [jump_consistent_hash(key, 17) for key in keys]
    moved = [new for old, new in zip(before, after, strict=True) if old != new]
    assert set(moved) == {16}
    assert 0.03 < len(moved) / len(keys) < 0.09  # about 1/17


def test_every_partition_gets_keys() -> None:
    seen = {partition_of(f"ns/pkg-{index}", 16) for index in range(2000)}
    assert seen == set(range(16))


def test_bad_bucket_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        jump_consistent_hash(1, 0)


def test_partition_names_sort_and_stay_unique() -> None:
    assert partition_name(0) == "p00"
    assert partition_name(15) == "p15"
    assert partition_name(1023) == "p1023"
    assert len({partition_name(index) for index in range(1024)}) == 1024


def test_package_lock_key_is_a_signed_64_bit_value() -> None:
    for key, _fnv, _ in GOLDEN:
        lock = package_lock_key(key)
        assert -(1 << 63) <= lock < (1 << 63)
        assert lock % (1 << 64) == fnv1a_64(key.encode("utf-8"))
