"""A lesson: one candidate memory as extraction found it (a model's reply or the offline
heuristic), with the limits and memory types of the reply contract. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, TypeAlias, get_args

if TYPE_CHECKING:
    from memem.core.memory import Layer

MemoryType: TypeAlias = Literal[
    "decision",
    "convention",
    "bugfix",
    "preference",
    "workaround",
    "environment",
    "invariant",
    "failure",
    "quirk",
    "domain",
]

MEMORY_TYPES: Final[tuple[MemoryType, ...]] = get_args(MemoryType)
MAX_MEMORIES: Final = 50
MAX_TITLE_CHARS: Final = 200
MAX_CONTENT_CHARS: Final = 4_000
MAX_TAGS: Final = 20


@dataclass(frozen=True, slots=True)
class Lesson:
    """One candidate memory, as a backend extracted it. Not yet scanned, deduplicated or saved.
    `layer` is None when the backend left the layer to memem's classifier. `situations` are
    the questions or tasks it answers, as the model wrote them (the heuristic has none).
    `sources` are the 1-based numbers of the chunk's entries it came from (the model cites
    them; the heuristic knows them), which the miner turns into provenance."""

    title: str
    content: str
    type: MemoryType
    tags: tuple[str, ...]
    importance: int
    layer: Layer | None
    situations: tuple[str, ...] = ()
    sources: tuple[int, ...] = ()
