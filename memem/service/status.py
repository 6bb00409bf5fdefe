"""`memem status`: what the index holds, for people and for `--json`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from memem.core.memory import LAYERS
from memem.settings import Settings
from memem.storage import index
from memem.storage.unit import Connection


@dataclass(frozen=True, slots=True)
class Status:
    state_dir: str
    vault_dir: str
    memories: int
    active: int
    deprecated: int
    projects: Mapping[str, Mapping[int, int]]
    edges: int
    index_bytes: int
    broken: Mapping[str, str] = field(default_factory=dict)
    quarantined: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # id: file, reason
    archived: int = 0  # by retention: out of automatic recall, counted apart from deprecated

    def to_dict(self) -> dict[str, Any]:
        return {
            "state_dir": self.state_dir,
            "vault_dir": self.vault_dir,
            "memories": self.memories,
            "active": self.active,
            "deprecated": self.deprecated,
            "archived": self.archived,
            "projects": {p: {f"L{k}": v for k, v in c.items()} for p, c in self.projects.items()},
            "edges": self.edges,
            "index_bytes": self.index_bytes,
            "broken_files": [{"file": f, "reason": r} for f, r in self.broken.items()],
            "quarantined": [
                {"id": i, "file": f, "reason": r} for i, (f, r) in self.quarantined.items()
            ],
        }


def index_status(conn: Connection, settings: Settings) -> Status:
    """What the index `conn`, of the store `settings` describes, holds."""
    projects: dict[str, dict[int, int]] = defaultdict(lambda: dict.fromkeys(LAYERS, 0))
    active = deprecated = archived = 0
    for p, layer, status, n in index.layer_counts(conn):
        if status == "active":
            projects[p][layer] += n
            active += n
        elif status == "archived":
            archived += n
        else:
            deprecated += n
    edges = sum(index.edge_counts(conn).values())
    base = settings.index_path
    files = [base.with_name(base.name + s) for s in ("", "-wal", "-shm")]
    size = sum(f.stat().st_size for f in files if f.is_file())
    broken = {f: r[0] for f, r in index.broken_files(conn).items()}
    held = {r[0]: (f, r[1]) for f, r in index.quarantined_files(conn).items()}
    return Status(
        state_dir=str(settings.state_dir),
        vault_dir=str(settings.vault_dir),
        memories=active + deprecated + archived,
        active=active,
        deprecated=deprecated,
        projects=dict(sorted(projects.items())),
        edges=edges,
        index_bytes=size,
        broken=broken,
        quarantined=held,
        archived=archived,
    )
