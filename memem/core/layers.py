"""Layer classification. Pure.

L0  project identity: what the project is, its stack and architecture; pinned into every
    slice of the project, so capped per project
L1  generic conventions and preferences: how we always / never do things
L2  domain-specific knowledge: the default
L3  rare or archival: one-off, historical, low importance; never recalled automatically
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from memem.core.memory import Layer

L0_CAP: Final = 8

_IDENTITY: Final = re.compile(
    r"^(?:this|the|our)\s+(?:[\w.-]+\s+)?"
    r"(?:project|repo|repository|codebase|app|application|service|library|tool)"
    r"\s+(?:is|provides|implements|exists)\b",
    re.IGNORECASE,
)
_CONVENTION: Final = re.compile(
    r"\b(?:always|never|prefer(?:s|red)?|convention|style guide|we use|don't|do not)\b",
    re.IGNORECASE,
)
_ARCHIVAL: Final = re.compile(
    # Not "used to": "I used to have a dog" is an ordinary fact, not an archival note.
    r"\b(?:one-off|one-time|temporary|historical|no longer relevant|archived?)\b",
    re.IGNORECASE,
)
_L0_TAGS: Final = frozenset({"identity", "overview", "architecture", "project-identity", "stack"})
_L1_TAGS: Final = frozenset({"convention", "conventions", "style", "preference", "preferences"})
_L3_TAGS: Final = frozenset({"archive", "archival", "historical", "one-off", "rare"})


def classify(
    title: str, content: str, tags: Sequence[str], importance: int, project: str = ""
) -> Layer:
    """The layer a memory belongs in when nobody said."""
    tagset = set(tags)
    if tagset & _L3_TAGS or importance <= 1 or _ARCHIVAL.search(content[:400]):
        return 3
    names_itself = bool(project) and re.match(
        rf"(?:the\s+)?{re.escape(project)}\s+(?:project\s+|repo\s+)?is\s+an?\b", content, re.I
    )
    if (
        tagset & _L0_TAGS
        or names_itself
        or _IDENTITY.search(title)
        or _IDENTITY.search(content[:200])
    ):
        return 0
    if tagset & _L1_TAGS or _CONVENTION.search(title) or _CONVENTION.search(content[:300]):
        return 1
    return 2
