"""Field types shared by intents and outcomes: names, resource keys, JSON text, versions."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

SCHEMA_VERSION = 1
"""The newest intent schema this code reads and writes; a newer one is rejected."""


class FrozenModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Lifecycle(StrEnum):
    """Porch's four lifecycle values, spelled as in its `lifecycle` column."""

    DRAFT = "Draft"
    PROPOSED = "Proposed"
    PUBLISHED = "Published"
    DELETION_PROPOSED = "DeletionProposed"


class ProducerRole(StrEnum):
    SERVER = "server"
    RENDER = "render"


# Kubernetes names: a namespace is a DNS label, other objects DNS subdomains.
Namespace = Annotated[
    str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
]
K8sName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"),
]

Version = Annotated[int, Field(ge=0, description="porch's `updated` in microseconds since epoch")]


def _check_resource_key(key: str) -> str:
    """A resource key is a relative, slash-separated path that cannot escape the package."""
    problem = resource_key_problem(key)
    if problem is not None:
        raise PydanticCustomError(
            "unsafe_key",
            "unsafe resource key {key}: {problem}",
            {"key": repr(key[:200]), "problem": problem},
        )
    return key


_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
_BAD_SEGMENT = re.compile(r"(?:^|/)(?:\.\.?)?(?:/|$)")
"""An empty, `.` or `..` path segment (at the start, between slashes, or at the end)."""


def resource_key_problem(key: str) -> str | None:
    # Regular expressions: this runs for every key of every intent, in the writer's hot path.
    if key == "":
        return "empty"
    if _CONTROL_CHARACTER.search(key):
        return "contains a NUL or control character"
    if key.startswith("/"):
        return "absolute path"
    if "\\" in key:
        return "contains a backslash"
    if _BAD_SEGMENT.search(key):
        return (
            "contains '..'" if ".." in key.split("/") else "contains an empty or '.' path segment"
        )
    return None


ResourceKey = Annotated[str, AfterValidator(_check_resource_key)]
Resources = dict[ResourceKey, str]


def _check_json_text(text: str) -> str:
    try:
        json.loads(text)
    except ValueError as error:
        raise PydanticCustomError(
            "json_text", "not valid JSON text: {error}", {"error": str(error)}
        ) from None
    return text


JsonText = Annotated[
    str,
    AfterValidator(_check_json_text),
    Field(description="JSON document as text, as porch stores it"),
]
