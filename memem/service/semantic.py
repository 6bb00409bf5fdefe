"""The dense half of recall: the embedding model and the vectors of the index's memories.

    nearest(conn, query, scope) -> {memory id: cosine} for the closest memories in scope,
                                   or None when the model is not at hand (recall is lexical)

Vectors are derived data (`memem.storage.vectors`): made from each memory's title,
situations and content (`memem.core.memory.embedding_text`), keyed by that text's hash and the model's id,
reused across index rebuilds, and made again only for what changed.

Three modes, by who holds the store:
- `sync`, a Python caller (`Store.open()`): the model is loaded at the first search, and a
  search first embeds the memories that have no vector yet, so a memory saved a moment ago
  is found with the full ranking.
- `background`, the engine: the model loads and the vectors are made on the engine's own
  thread (`run`), in small batches that make way for requests; a search uses the vectors
  there are (a memory without one yet is still found lexically) and never waits.
- `off`: no model (`MEMEM_SEMANTIC=off`, a CLI command or an MCP server without the engine).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from memem.core import ranking
from memem.core.memory import embedding_text
from memem.core.prompts import parts
from memem.core.text import query_terms
from memem.storage import embedder as model
from memem.storage import vectors
from memem.storage.vault import content_hash
from memem.storage.vectors import Cache, Table

if TYPE_CHECKING:
    import os

    import numpy as np
    import numpy.typing as npt

    from memem.storage.embedder import Embedder
    from memem.storage.index import Connection, Index

log = logging.getLogger("memem.service.semantic")

MODES: Final = ("sync", "background", "off")
# Dense candidates per search, besides the lexical ones.
CANDIDATES: Final = 40
# Query vectors remembered (the slice and a search often embed the same prompt).
QUERIES: Final = 64
# The engine looks for index changes this often (an O(1) check) when it has nothing to embed.
POLL_SECONDS: Final = 1.0
# Texts per batch in the engine: a request waits at most for one batch (~0.15 s on 2 cores).
BACKGROUND_BATCH: Final = model.BATCH

Progress = Callable[[str, int, int], None]


def text_hash(text: str) -> str:
    return content_hash(text.encode("utf-8", "surrogatepass"))[:32]


class Semantic:
    def __init__(
        self,
        index: Index,
        cache_path: str | os.PathLike[str],
        *,
        mode: str = "sync",
        load: Callable[[], Embedder] = model.Embedder.shared,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self._index = index
        self._cache = Cache(cache_path)
        self._load = load
        self._embedder: Embedder | None = None
        self._state = "off" if mode == "off" else "loading"
        self._reason = "semantic recall is off (MEMEM_SEMANTIC=off)" if mode == "off" else ""
        self._table: Table | None = None
        self._texts: dict[str, str] = {}  # hash -> text, for the rows still without a vector
        self._changes = vectors.Changes(index.path)
        self._mark: tuple[int, int] | None = None  # the index's change mark at the last refresh
        self._lock = threading.RLock()  # one refresh or embedding at a time; queries never wait
        self._queries: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._numpy: bool | None = None
        self._background: tuple[int, float] = (-1, 0.0)  # (vectors, mean cosine) last measured

    # -- state ---------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """`ready`, `loading`, `missing` (the model stack cannot be used here) or `off`."""
        return self._state

    @property
    def reason(self) -> str:
        return self._reason

    @property
    def ready(self) -> bool:
        return self._state == "ready"

    def load(self) -> bool:
        """Load the model once (a failure is remembered: `missing`, with the reason)."""
        if self._embedder is not None or self._state in ("missing", "off") or not self._arrays():
            return self._embedder is not None
        with self._lock:
            if self._embedder is None and self._state == "loading":
                try:
                    self._embedder = self._load()
                    self._state, self._reason = "ready", ""
                except model.Missing as exc:
                    self._state, self._reason = "missing", str(exc)
                    log.warning("semantic recall unavailable", extra={"reason": str(exc)})
        return self._embedder is not None

    def _arrays(self) -> bool:
        """Whether numpy is there to hold the vectors; without it (the model stack could not be
        installed) the state is `missing` and recall lexical."""
        if self._numpy is None:
            try:
                import numpy  # noqa: F401
            except ImportError as exc:
                self._numpy = False
                if self._state != "off":
                    self._state = "missing"
                    self._reason = f"the model stack is not installed ({exc.name or exc})"
            else:
                self._numpy = True
        return self._numpy

    def status(self, conn: Connection | None = None) -> dict[str, Any]:
        """For `memem status`: state, reason, how many memories have a vector, how many wait
        (as of the last look at the index, or now with `conn`)."""
        if conn is not None:
            self.refresh(conn)
        table = self._table
        have = table.vectors if table is not None else 0
        if table is not None:
            total = len(table.ids)
        else:
            total = vectors.memory_count(conn) if conn is not None else 0
        return {
            "state": self._state,
            "reason": self._reason or None,
            "vectors": have,
            "memories": total,
            "pending": total - have,
            "model": model.MODEL_ID,
            "mode": self.mode,
        }

    # -- keeping the vectors in line with the index --------------------------------------------

    def refresh(self, conn: Connection) -> bool:
        """Re-read the index's memories when anyone changed it since the last look:
        vectors are taken from the current table and the cache; the rest wait for `embed`."""
        mark = self._changes.mark()
        if self._table is not None and self._mark == mark:
            return False
        if not self._arrays():
            return False
        with self._lock:
            mark = self._changes.mark()
            rows = vectors.sources(conn)
            texts = [
                embedding_text(r["title"], r["content"], filter(None, r["situations"].split("\n")))
                for r in rows
            ]
            hashes = [text_hash(t) for t in texts]
            table = Table(
                [r["id"] for r in rows],
                hashes,
                [r["project"] for r in rows],
                [r["layer"] for r in rows],
                [r["status"] == "active" for r in rows],
                model.DIMENSIONS,
            )
            old = self._table
            if old is not None:
                table.fill({h: old.matrix[i[0]] for h, i in old.position.items() if old.has[i[0]]})
            wanted = table.missing()
            if wanted:
                table.fill(self._cache.get(model.MODEL_ID, wanted))
            by_hash = dict(zip(hashes, texts, strict=True))
            # Shortest first: a batch is padded to its longest text, so texts of like length
            # batch together (in index order, padding cost about half the embedding time).
            missing = sorted(table.missing(), key=lambda h: len(by_hash[h]))
            self._texts = {h: by_hash[h] for h in missing}
            self._table = table
            # The mark read before the rows: a commit between the two is seen at the next look.
            self._mark = mark
            return True

    @property
    def floor(self) -> float:
        """The floor on meaning for this vault (`memem.core.ranking.dense_floor`): it rises
        with the number of memories and with how alike they are (the background)."""
        table = self._table
        if table is None:
            return 1.0
        return ranking.dense_floor(table.vectors, self.background)

    @property
    def weight(self) -> float:
        """The dense signal's weight in this vault (`memem.core.ranking.dense_weight`)."""
        return ranking.dense_weight(self.background)

    @property
    def background(self) -> float:
        """The mean cosine between the vault's memories, measured again when the number of
        vectors changed."""
        table = self._table
        if table is None:
            return 0.0
        count = table.vectors
        if self._background[0] != count:
            self._background = (count, table.background())
        return self._background[1]

    def embed(self, limit: int | None = None, progress: Progress | None = None) -> int:
        """Make the vectors still missing (at most `limit`), in batches; returns how many."""
        if not self.load():
            return 0
        assert self._embedder is not None
        done = 0
        with self._lock:
            table = self._table
            if table is None:
                return 0
            todo = list(itertools.islice(self._texts.items(), limit))
            for start in range(0, len(todo), model.BATCH):
                batch = todo[start : start + model.BATCH]
                made = self._embedder.encode([text for _, text in batch])
                pairs = [(h, made[n]) for n, (h, _) in enumerate(batch)]
                self._cache.put(model.MODEL_ID, [(h, v.tobytes()) for h, v in pairs])
                table.fill(dict(pairs))
                for h, _ in batch:
                    self._texts.pop(h, None)
                done += len(batch)
                if progress:
                    progress("embedding", done, len(todo))
        return done

    def reembed(self, conn: Connection, progress: Progress | None = None) -> int:
        """Drop every vector and make them all again (`memem rebuild-index --vectors`)."""
        with self._lock:
            self._cache.clear()
            self._table = None
            self.refresh(conn)
            return self.embed(progress=progress)

    def prune(self) -> int:
        """Drop the cached vectors no memory uses any more (after a rebuild)."""
        table = self._table
        if table is None:
            return 0
        return self._cache.prune(model.MODEL_ID, table.hashes)

    # -- searching -----------------------------------------------------------------------------

    def nearest(
        self,
        conn: Connection,
        query: str,
        *,
        projects: Sequence[str] | None,
        max_layer: int,
        include_deprecated: bool,
        k: int = CANDIDATES,
    ) -> dict[str, float] | None:
        """{memory id: cosine} of the `k` closest memories in scope; None when the model is
        not at hand (then recall is lexical)."""
        if self.mode == "off":
            return None
        if self.mode == "sync":
            if not self.load():
                return None
            self.refresh(conn)
            if self._texts:
                self.embed()
        table = self._table
        if self._embedder is None or table is None:
            return None
        # A prompt that asks several things at once is also asked part by part: each part's
        # closest memories are lifted to the whole prompt's best, when the part's own best
        # clears the floor on meaning, so that the second ask is not drowned by the first.
        asks = [query, *parts(query)]
        floor = self.floor
        found: dict[str, float] = {}
        best = 0.0
        for n, (ask, vector) in enumerate(zip(asks, self._query_vectors(asks), strict=True)):
            got = table.nearest(
                vector,
                projects=projects,
                max_layer=max_layer,
                include_deprecated=include_deprecated,
                k=k,
            )
            if not got:
                continue
            top = max(got.values())
            if n == 0:
                best = top
            elif not ranking.passes_dense_floor(top, floor, len(query_terms(ask))):
                continue
            lift = max(0.0, best - top)
            for i, cosine in got.items():
                found[i] = max(found.get(i, -1.0), cosine + lift)
        return found

    def _query_vectors(self, texts: Sequence[str]) -> list[npt.NDArray[np.float32]]:
        """The texts' vectors, embedded in one run (remembered: the slice and a search often
        embed the same prompt)."""
        assert self._embedder is not None
        known = {t: v for t in texts if (v := self._queries.get(t)) is not None}
        todo = [t for t in dict.fromkeys(texts) if t not in known]
        if todo:
            known.update(zip(todo, self._embedder.encode(todo), strict=True))
            for text in todo:
                self._queries[text] = known[text]
            while len(self._queries) > QUERIES:
                self._queries.popitem(last=False)
        return [known[t] for t in texts]

    # -- the engine's thread -------------------------------------------------------------------

    def run(self, stop: threading.Event, pause: Callable[[], None]) -> None:
        """Load the model, then keep the vectors current until `stop` is set: look for index
        changes every POLL_SECONDS and embed what is new, BACKGROUND_BATCH texts at a time,
        calling `pause()` between batches (the engine waits there while it answers a request),
        then let the model give back the memory the batches grew (`Embedder.release`)."""
        try:
            self.refresh(self._index.connection())  # the vectors there are, before the model
        except Exception:  # the engine's edge: log and carry on
            log.exception("reading the vectors failed")
        self.load()
        while not stop.is_set() and self._embedder is not None:
            try:
                self.refresh(self._index.connection())
                made = 0
                while self._texts and not stop.is_set():
                    pause()
                    made += self.embed(BACKGROUND_BATCH)
                if made:  # done for now: the memory the batches grew goes back
                    self._embedder.release()
            except Exception:  # the engine's edge: log and carry on
                log.exception("embedding in the background failed")
            stop.wait(POLL_SECONDS)

    def close(self) -> None:
        self._changes.close()
        self._cache.close()
