"""Placeholder until the writer's migrations land."""

from __future__ import annotations


async def migrate(database_url: str) -> list[str]:
    return []
