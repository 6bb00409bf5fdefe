"""The graph `rebuild-index` computes is the graph saving the same memories one by one built."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from benchmarks import synth
from memem.service.store import Store

TOLERANCE = 0.15
TOPICAL = ("same_topic", "supports", "depends_on")


def edges(store: Store) -> tuple[Counter[str], set[str]]:
    rows = store.index.connection().execute("SELECT src, dst, type FROM edges").fetchall()
    return Counter(r[2] for r in rows), {end for r in rows for end in r[:2]}


def close(a: int, b: int) -> bool:
    return abs(a - b) <= TOLERANCE * max(a, b)


@pytest.mark.parametrize(
    ("count", "seed", "with_sessions"), [(150, 7, True), (200, 11, True), (150, 3, False)]
)
def test_rebuild_finds_the_graph_saves_built(
    tmp_path: Path, count: int, seed: int, with_sessions: bool
) -> None:
    """A realistic vault (several projects, sessions, a long tail of rare terms), saved one
    memory at a time, then rebuilt from scratch: the edge counts per type agree and no
    memory that was linked ends up an orphan."""
    with Store.open(state_dir=tmp_path / "state", vault_dir=tmp_path / "vault") as store:
        for m in synth.generate(count, seed=seed):
            if with_sessions:
                store.add(
                    m.content,
                    title=m.title,
                    project=m.project,
                    tags=m.tags,
                    created=m.created,
                    source_session=m.source_session,
                )
            else:  # as `memem save` does: no session, created now
                store.add(m.content, project=m.project)
        saved, linked = edges(store)
        store.rebuild_index()
        rebuilt, still_linked = edges(store)
    assert close(sum(saved.values()), sum(rebuilt.values())), (saved, rebuilt)
    for kind in ("same_project", "same_session"):
        if saved[kind] >= 20:
            assert close(saved[kind], rebuilt[kind]), (kind, saved, rebuilt)
    topical = sum(saved[k] for k in TOPICAL), sum(rebuilt[k] for k in TOPICAL)
    assert close(*topical), (saved, rebuilt)
    assert linked <= still_linked
