"""Logs are JSON lines when the stream is not a terminal, readable text when it is."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from messages.logs import configure_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    structlog.get_logger().info("batch.applied", partition=3, size=12)
    line = json.loads(stream.getvalue())
    assert line["event"] == "batch.applied"
    assert (line["partition"], line["size"], line["level"]) == (3, 12, "info")


def test_readable_text_on_a_terminal() -> None:
    stream = FakeTerminal()
    configure_logging(stream=stream)
    structlog.get_logger().info("batch.applied", partition=3)
    text = stream.getvalue()
    assert "batch.applied" in text
    assert not text.lstrip().startswith("{")


def test_the_level_filters() -> None:
    stream = io.StringIO()
    configure_logging(level="warning", stream=stream)
    structlog.get_logger().info("quiet")
    structlog.get_logger().warning("loud")
    assert "quiet" not in stream.getvalue()
    assert "loud" in stream.getvalue()
