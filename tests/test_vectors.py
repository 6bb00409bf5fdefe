import threading
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from memem.service.semantic import Semantic
from memem.service.store import Store
from memem.storage import embedder
from memem.storage.embedder import Embedder
from memem.storage.vectors import Table
from tests.waiting import wait_until


# "alpha" holds most rows in scope (one product over the whole matrix), "beta" few (its rows
# are copied first): both give the same answer as a plain computation.
@pytest.mark.parametrize("project", ["alpha", "beta"])
def test_nearest_gives_the_k_highest_cosines_among_the_memories_in_scope(project: str) -> None:
    rng = np.random.default_rng(3)
    n = 300
    made = rng.standard_normal((n, 8)).astype(np.float32)
    made /= np.linalg.norm(made, axis=1, keepdims=True)
    projects = ["alpha" if i % 3 else "beta" for i in range(n)]
    layers = [i % 4 for i in range(n)]
    active = [i % 7 != 0 for i in range(n)]
    table = Table(
        [f"m{i}" for i in range(n)], [f"h{i}" for i in range(n)], projects, layers, active, 8
    )
    table.fill({f"h{i}": made[i] for i in range(n) if i % 11})  # some still without a vector
    query = made[5]

    found = table.nearest(query, projects=[project], max_layer=2, include_deprecated=False, k=10)

    in_scope = [
        i for i in range(n) if i % 11 and projects[i] == project and layers[i] <= 2 and active[i]
    ]
    expected = sorted(in_scope, key=lambda i: -float(made[i] @ query))[:10]
    assert set(found) == {f"m{i}" for i in expected}
    for i in expected:
        assert abs(found[f"m{i}"] - float(made[i] @ query)) < 1e-5


class Recorder:
    """A stand-in model that records the batches it is given (unit vectors back)."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.released = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        out = np.zeros((len(texts), embedder.DIMENSIONS), dtype=np.float32)
        out[:, 0] = 1.0
        return out

    def release(self) -> None:
        self.released += 1


def test_the_vectors_still_to_make_are_made_shortest_text_first_so_a_batch_pads_little(
    store: Store, tmp_path: Path
) -> None:
    words = [
        "deploy",
        "cache",
        "retry",
        "schema",
        "token",
        "build",
        "queue",
        "shard",
        "index",
        "route",
    ]
    for count in (9, 2, 6, 1, 4):
        store.save(f"The {' '.join(words[:count])} notes for service number {count}.")
    recorder = Recorder()
    semantic = Semantic(
        store.index, tmp_path / "vectors.sqlite3", load=lambda: cast(Embedder, recorder)
    )
    semantic.refresh(store.index.connection())

    assert semantic.embed(limit=2) == 2
    assert semantic.embed() == 3

    made = [text for batch in recorder.batches for text in batch]
    assert [len(text) for text in made] == sorted(len(text) for text in made)
    assert len(made) == 5


def test_the_engines_thread_gives_back_the_models_memory_once_it_has_embedded_everything(
    store: Store, tmp_path: Path
) -> None:
    for n in range(3):
        store.save(f"Release note {n}: the staging cluster {n} is rebuilt every night.")
    recorder = Recorder()
    semantic = Semantic(
        store.index,
        tmp_path / "vectors.sqlite3",
        mode="background",
        load=lambda: cast(Embedder, recorder),
    )
    stop = threading.Event()
    thread = threading.Thread(target=semantic.run, args=(stop, lambda: None))
    thread.start()
    try:
        wait_until(lambda: recorder.released == 1)
        assert semantic.status()["pending"] == 0
        assert sum(len(batch) for batch in recorder.batches) == 3
    finally:
        stop.set()
        thread.join()


def test_a_model_that_gave_back_its_memory_embeds_as_before() -> None:
    model = Embedder.shared()
    texts = ["a longer text about the deploy pipeline " * 30, "the cache"]
    before = model.encode(texts)
    model.release()
    assert np.allclose(model.encode(texts), before, atol=1e-5)
