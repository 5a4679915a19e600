"""The load test's content: write-id trailers, variants, the render transform."""

from __future__ import annotations

from loadtest.content import (
    KPTFILE,
    RENDER_MARK,
    VARIANTS,
    ContentBook,
    Shape,
    render_body,
    split_value,
    stamp,
    write_ids,
)


def test_every_value_names_its_write() -> None:
    book = ContentBook(Shape(packages=3, resources=20, value_bytes=200))
    resources = stamp(book.bodies(1, 2), "s3.17")
    assert len(resources) == 20
    assert KPTFILE in resources
    assert write_ids(resources) == {"s3.17": 20}
    for value in resources.values():
        body, write = split_value(value)
        assert write == "s3.17"
        assert value == body + "# write: s3.17\n"


def test_values_are_about_the_requested_size() -> None:
    book = ContentBook(Shape(packages=1, resources=5, value_bytes=200))
    sizes = [
        len(value) for key, value in stamp(book.bodies(0, 0), "s0.1").items() if key != KPTFILE
    ]
    assert all(190 <= size <= 215 for size in sizes), sizes


def test_variants_differ_in_their_key_sets() -> None:
    book = ContentBook(Shape(packages=1, resources=6))
    keys = [frozenset(key for key, _ in book.bodies(0, variant)) for variant in range(VARIANTS)]
    assert len(set(keys)) == VARIANTS
    assert all(KPTFILE in variant for variant in keys)


def test_bodies_are_deterministic_and_shared() -> None:
    one, two = ContentBook(Shape(packages=4)), ContentBook(Shape(packages=4))
    assert one.bodies(3, 1) == two.bodies(3, 1)
    assert one.bodies(3, 1) is one.bodies(3, 1 + VARIANTS)


def test_a_value_without_a_trailer_has_no_write() -> None:
    assert split_value("data: 1\n") == ("data: 1\n", None)
    assert write_ids({"a": "x\n", "b": "y# write: w1\n"}) == {None: 1, "w1": 1}


def test_render_keeps_the_kptfile_and_marks_the_rest() -> None:
    book = ContentBook(Shape(packages=2, resources=8))
    pushed = stamp(book.bodies(1, 0), "s0.1")
    rendered = stamp(book.render(pushed), "r0.1")
    assert set(rendered) == set(pushed)
    assert split_value(rendered[KPTFILE])[0] == split_value(pushed[KPTFILE])[0]
    for key in set(pushed) - {KPTFILE}:
        assert RENDER_MARK in rendered[key]
    assert write_ids(rendered) == {"r0.1": 8}


def test_render_is_deterministic_idempotent_and_interned() -> None:
    book = ContentBook(Shape(packages=2, resources=8))
    pushed = stamp(book.bodies(0, 1), "s1.1")
    first = book.render(pushed)
    again = book.render(stamp(book.bodies(0, 1), "s2.9"))
    assert first is again  # the same content renders to one shared tuple
    assert book.render(stamp(first, "r0.1")) == first  # a re-render changes nothing
    body = "metadata:\n  annotations:\n    a: b\n"
    assert render_body(render_body(body)) == render_body(body)
