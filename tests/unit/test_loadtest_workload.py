"""The seeded workload, the package board, the open-loop pacer and the intent budget."""

from __future__ import annotations

import pytest

from loadtest.content import Shape
from loadtest.pacing import MAX_BACKLOG_S, Budget, Pacer
from loadtest.workload import ActorPlan, Board, Names, OpKind, WorkloadSpec


def ops(spec: WorkloadSpec, role: str, index: int, count: int = 200) -> list[object]:
    plan = ActorPlan(spec, role, index)
    return [plan.next_op() for _ in range(count)]


def test_the_same_seed_gives_the_same_plan() -> None:
    spec = WorkloadSpec(seed=7)
    assert ops(spec, "server", 3) == ops(WorkloadSpec(seed=7), "server", 3)
    assert ops(spec, "server", 3) != ops(spec, "server", 4)
    assert ops(spec, "server", 3) != ops(WorkloadSpec(seed=8), "server", 3)


def test_most_writes_hit_the_hot_packages() -> None:
    spec = WorkloadSpec(shape=Shape(packages=200), hot=8, hot_share=0.75, seed=1)
    hot = set(spec.hot_packages())
    plan = ActorPlan(spec, "server", 0)
    picks = [plan.package() for _ in range(4000)]
    share = sum(pick in hot for pick in picks) / len(picks)
    assert len(hot) == 8
    assert 0.72 < share < 0.82


def test_the_op_mix_follows_the_shares() -> None:
    spec = WorkloadSpec(lifecycle_share=0.1, publish_share=0.05, expected_share=0.5)
    plan = ActorPlan(spec, "server", 0)
    drawn = [plan.next_op() for _ in range(5000)]
    kinds = {kind: sum(op.kind is kind for op in drawn) / 5000 for kind in OpKind}
    assert 0.03 < kinds[OpKind.PUBLISH] < 0.07
    assert 0.07 < kinds[OpKind.LIFECYCLE] < 0.13
    assert 0.45 < sum(op.expected for op in drawn) / 5000 < 0.55


def test_bad_shares_are_refused() -> None:
    with pytest.raises(ValueError, match="hot_share"):
        WorkloadSpec(hot_share=1.5)
    with pytest.raises(ValueError, match="must not exceed"):
        WorkloadSpec(lifecycle_share=0.6, publish_share=0.6)


def test_names_follow_porch() -> None:
    names = Names("lt-abc")
    assert names.package(7) == "lt-repo.pkg-0007"
    assert names.revision(7, 2) == "lt-repo.pkg-0007.v2"
    assert Names.fresh().namespace != Names.fresh().namespace


def test_the_board_hands_a_package_to_one_publisher() -> None:
    board = Board(Names("lt-x"), 3)
    assert board.claim(1)
    assert not board.claim(1)
    assert board.is_busy(1)
    board.release(1, new_draft=True)
    assert not board.is_busy(1)
    assert board.revision(1) == "lt-repo.pkg-0001.v2"
    assert board.revision(0) == "lt-repo.pkg-0000.v1"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_pacer_is_open_loop() -> None:
    clock = FakeClock()
    pacer = Pacer(100.0, clock=clock)
    assert pacer.reserve() == (0.0, 0.0)
    delay, _ = pacer.reserve()
    assert delay == pytest.approx(0.01)
    clock.now += 0.5  # the writes were slow: later slots are already due, and late
    delay, lag = pacer.reserve()
    assert delay == 0.0
    assert lag == pytest.approx(0.48)


def test_the_pacer_drops_a_backlog_older_than_its_bound() -> None:
    clock = FakeClock()
    pacer = Pacer(10.0, clock=clock)
    pacer.reserve()
    clock.now += MAX_BACKLOG_S + 2.0
    _, lag = pacer.reserve()
    assert lag <= MAX_BACKLOG_S
    assert pacer.dropped >= 20


def test_unpaced_and_budgets() -> None:
    assert Pacer(None).reserve() == (0.0, 0.0)
    budget = Budget(2)
    assert [budget.take(), budget.take(), budget.take()] == [True, True, False]
    assert budget.exhausted
    budget.give_back()
    assert budget.take()
    assert Budget(None).take()
    assert not Budget(None).exhausted
