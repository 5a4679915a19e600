"""The README keeps its promises: the two commands, every setting, the CI command."""

from __future__ import annotations

from pathlib import Path

from messages.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_the_readme_documents_every_setting() -> None:
    missing = [
        ENV_PREFIX + name.upper()
        for name in Settings.model_fields
        if ENV_PREFIX + name.upper() not in README
    ]
    assert missing == []


def test_the_readme_gives_the_run_and_test_commands() -> None:
    assert "make run" in README
    assert "make test" in README


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text().splitlines()
    assert script[-1] == "make test"
