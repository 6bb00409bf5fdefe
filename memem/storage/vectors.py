"""The memories' vectors: derived data, like the index, kept beside it.

`<state>/vectors.sqlite3` maps (model id, hash of the embedded text) to a float32 vector, so a
vector is reused for as long as its memory's text and the model stay the same: an index
rebuild, a reconcile or a moved file re-embeds nothing, an edit re-embeds one memory, a new
model re-embeds everything. Deleting the file loses nothing but the time to embed again.

`Table` is the in-memory side: one row per memory of the index (id, scope, whether it has a
vector yet) and a float32 matrix, searched by brute force (numpy: ~0.1 ms at 10k memories).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS vectors (model TEXT NOT NULL, hash TEXT NOT NULL, "
    "vector BLOB NOT NULL, PRIMARY KEY (model, hash)) WITHOUT ROWID"
)
CHUNK: Final = 500
# Memories sampled to measure how alike a vault's memories are (against four times as many).
BACKGROUND_SAMPLE: Final = 128
# `Table.nearest` copies the rows in scope when they are fewer than 1 in SCOPED_COPY.
SCOPED_COPY: Final = 3


class Cache:
    """The vector file. One connection behind a lock: reads and writes are short and rare
    (an index change, a batch of new vectors), never on a prompt's path."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
            try:
                self._conn = self._open()
            except sqlite3.DatabaseError:
                # Derived data: a damaged file is dropped and the vectors made again.
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(self.path + suffix)
                self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(SCHEMA)
            conn.execute("SELECT model, hash, vector FROM vectors LIMIT 0")
        except BaseException:
            conn.close()
            raise
        os.chmod(self.path, 0o600)
        return conn

    def get(self, model: str, hashes: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        with self._lock:
            conn = self._connection()
            for start in range(0, len(hashes), CHUNK):
                chunk = list(hashes[start : start + CHUNK])
                marks = ",".join("?" * len(chunk))
                found.update(
                    conn.execute(
                        f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({marks})",
                        [model, *chunk],
                    ).fetchall()
                )
        return found

    def put(self, model: str, items: Iterable[tuple[str, bytes]]) -> None:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT OR REPLACE INTO vectors (model, hash, vector) VALUES (?, ?, ?)",
                    [(model, h, v) for h, v in items],
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def prune(self, model: str, keep: Iterable[str]) -> int:
        """Drop the vectors of other models and of texts no memory has any more."""
        wanted = set(keep)
        with self._lock:
            conn = self._connection()
            stale = [
                h
                for (h,) in conn.execute("SELECT hash FROM vectors WHERE model = ?", [model])
                if h not in wanted
            ]
            conn.execute("BEGIN IMMEDIATE")
            try:
                removed = conn.execute("DELETE FROM vectors WHERE model != ?", [model]).rowcount
                conn.executemany(
                    "DELETE FROM vectors WHERE model = ? AND hash = ?", [(model, h) for h in stale]
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return removed + len(stale)

    def clear(self) -> None:
        with self._lock:
            self._connection().execute("DELETE FROM vectors")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class Table:
    """The vectors of the index's memories, in memory. Built whole by `Table.of` from the
    index's rows; vectors are filled in as they are made (`fill`). Readers take the arrays
    as they are: a row being filled while a query reads it is at worst missed once."""

    def __init__(
        self,
        ids: Sequence[str],
        hashes: Sequence[str],
        projects: Sequence[str],
        layers: Sequence[int],
        active: Sequence[bool],
        dimensions: int,
    ) -> None:
        import numpy as np

        self.ids = list(ids)
        self.hashes = list(hashes)
        self.position: dict[str, list[int]] = {h: [] for h in self.hashes}
        for i, h in enumerate(self.hashes):
            self.position[h].append(i)
        names = sorted(set(projects))
        self.project_codes = {p: n for n, p in enumerate(names)}
        self.projects = np.array([self.project_codes[p] for p in projects], dtype=np.int32)
        self.layers = np.array(layers, dtype=np.int8)
        self.active = np.array(active, dtype=bool)
        self.has = np.zeros(len(self.ids), dtype=bool)
        self.matrix = np.zeros((len(self.ids), dimensions), dtype=np.float32)

    def fill(self, vectors: dict[str, bytes] | dict[str, npt.NDArray[np.float32]]) -> int:
        """Set the rows whose text hash is in `vectors`; returns how many were set."""
        import numpy as np

        filled = 0
        for h, vector in vectors.items():
            rows = self.position.get(h)
            if not rows:
                continue
            row = np.frombuffer(vector, dtype=np.float32) if isinstance(vector, bytes) else vector
            if row.shape != (self.matrix.shape[1],):
                continue  # a vector of another size: made again
            for i in rows:
                self.matrix[i] = row
                self.has[i] = True
                filled += 1
        return filled

    def missing(self) -> list[str]:
        """Text hashes without a vector yet, each once, in index order."""
        return list(dict.fromkeys(self.hashes[i] for i in (~self.has).nonzero()[0]))

    def nearest(
        self,
        query: npt.NDArray[np.float32],
        *,
        projects: Sequence[str] | None,
        max_layer: int,
        include_deprecated: bool,
        k: int,
    ) -> dict[str, float]:
        """The `k` memories in scope whose vectors are closest to `query` (cosine, by id)."""
        import numpy as np

        mask = self.has & (self.layers <= max_layer)
        if not include_deprecated:
            mask &= self.active
        if projects is not None:
            codes = [self.project_codes[p] for p in projects if p in self.project_codes]
            mask &= np.isin(self.projects, np.array(codes, dtype=np.int32))
        candidates = mask.nonzero()[0]
        if not len(candidates):
            return {}
        # einsum, not `@`: numpy's BLAS runs a matrix-vector product on a pool of threads that
        # then spin, which costs a loaded 2-core machine more CPU than the product itself.
        if len(candidates) * SCOPED_COPY < len(self.ids):
            # Few rows in scope (a project's): copying them costs less than the whole product.
            scores = np.einsum("ij,j->i", self.matrix[candidates], query)
        else:  # one product over the whole matrix, then the scope
            scores = np.einsum("ij,j->i", self.matrix, query)[candidates]
        top = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else np.arange(len(scores))
        return {self.ids[candidates[i]]: float(scores[i]) for i in top}

    def background(self, sample: int = BACKGROUND_SAMPLE) -> float:
        """The mean cosine between memories: `sample` evenly spaced rows with a vector against
        as many others (0.0 with fewer than two vectors)."""
        import numpy as np

        rows = self.has.nonzero()[0]
        if len(rows) < 2:
            return 0.0
        picked = rows[np.linspace(0, len(rows) - 1, min(sample, len(rows))).astype(int)]
        others = rows[np.linspace(0, len(rows) - 1, min(4 * sample, len(rows))).astype(int)]
        scores = self.matrix[picked] @ self.matrix[others].T
        same = picked[:, None] == others[None, :]
        return float(scores[~same].mean()) if (~same).any() else 0.0

    @property
    def vectors(self) -> int:
        return int(self.has.sum())


def sources(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """id, project, layer, status, title, content and situations (one a line) of every memory
    of the index, in its order: what the vectors are made from."""
    return conn.execute(
        "SELECT id, project, layer, status, title, content, situations FROM memories ORDER BY rowid"
    ).fetchall()


def memory_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM memories").fetchone()[0])


class Changes:
    """Whether anyone committed to the index since the last look, in O(1): `data_version` of a
    connection of its own that never writes (it moves with every commit of every other
    connection, this process's too, and not with their temporary tables). Reopened when the
    file is replaced (an index moved aside and made again)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._inode = -1

    def mark(self) -> tuple[int, int]:
        """(file identity, version): different after any commit to the index."""
        with self._lock:
            try:
                inode = os.stat(self.path).st_ino
            except OSError:
                return (-1, -1)
            if self._conn is None or inode != self._inode:
                if self._conn is not None:
                    self._conn.close()
                # Not `mode=ro`: a read-only connection cannot always open a WAL database.
                self._conn = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
                self._inode = inode
            return inode, int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
