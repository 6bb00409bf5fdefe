"""Projects as the store shows them: the listing (`Store.list`), with the old names that are
aliases of each (`memem.storage.projects` owns the aliases and their adoption)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from memem.core.memory import LAYERS, Memory
from memem.storage import index
from memem.storage.index import Connection


@dataclass(frozen=True, slots=True)
class ProjectListing:
    project: str
    layers: Mapping[int, int]
    active: int
    deprecated: int
    recent: tuple[Memory, ...] = ()
    # Old names of this project (a folder name it had before it was named after its remote).
    aliases: tuple[str, ...] = ()
    archived: int = 0  # by retention (`memem retention run`): restorable, out of recall


def listings(
    conn: Connection, scope: str | None, recent: int, known: Mapping[str, str]
) -> list[ProjectListing]:
    """Projects (or the one `scope`) with memory counts per layer, their most recent active
    memories and their aliases (`known`: old name -> project)."""
    counts: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"layers": dict.fromkeys(LAYERS, 0), "active": 0, "deprecated": 0, "archived": 0}
    )
    for p, layer, status, n in index.layer_counts(conn, scope):
        entry = counts[p]
        entry[status if status in ("active", "deprecated", "archived") else "active"] += n
        if status == "active":
            entry["layers"][layer] += n
    result = []
    for p in sorted(counts):
        latest = index.recent(conn, p, int(recent))
        c = counts[p]
        result.append(
            ProjectListing(
                p,
                c["layers"],
                c["active"],
                c["deprecated"],
                tuple(r.memory for r in latest),
                tuple(sorted(old for old, new in known.items() if new == p)),
                c["archived"],
            )
        )
    return result
