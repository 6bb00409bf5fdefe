"""Indexed stores for the hook, retrieval and abstention benchmarks, cached between runs.

    state, vault, meta = stores.synth_index(10_000)    # synthetic coding vault, index built
    vectors = stores.synth_vectors(10_000)             # its vectors file (made once)
    built = stores.locomo_stores(conversations)          # one Store per LoCoMo conversation

Everything lives under /tmp/bench-memem-cache (never in `~`). A cache entry is named by the
memem code that decides what an index holds (`index_digest`: memem/core, memem/storage,
memem/service): an index made by other such code is never reused, while edits to the
front-ends (the hook, the engine, the CLI) keep it; of the entries for other sources, only
the newest two of each kind are kept (a 100k index is 200 MB).

The vectors of a synthetic vault (`<state>/vectors.sqlite3`, `memem.storage.vectors`) are
cached beside it in their own entry, named by vault and model, not by memem's code: they are
keyed by the hash of the embedded text and the model's id, so any index of that vault finds
the ones it can use. Embedding a vault is slow (~20-50 texts/s on 2 cores); an interrupted
or time-limited `synth_vectors` keeps what it made and the next run goes on from there.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from benchmarks import locomo, synth
from benchmarks.bench_store import (
    CACHE_ROOT,
    REPO,
    cached_vault,
    heartbeat,
    link_tree,
    log,
)
from memem.service.store import Store

READY: Final = "ready.json"
VECTORS: Final = "vectors.sqlite3"
# Entries kept for other memem sources (a patched copy and the checkout can alternate).
KEEP_OTHERS: Final = 2
# The packages whose code decides what an index and a saved store hold.
INDEX_CODE: Final = ("core", "storage", "service")
# ... but for the modules that only make and search vectors: those live in their own file,
# keyed by text hash and model id (`synth_vectors`), so a speed fix there keeps the indexes.
VECTOR_CODE: Final = ("storage/embedder.py", "storage/vectors.py", "service/semantic.py")


def index_digest() -> str:
    """A short hash of the code in INDEX_CODE (every module, recursively, but VECTOR_CODE)."""
    digest = hashlib.sha256()
    for package in INDEX_CODE:
        for path in sorted((REPO / "memem" / package).rglob("*.py")):
            if path.relative_to(REPO / "memem").as_posix() in VECTOR_CODE:
                continue
            name = path.relative_to(REPO).as_posix()
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _fresh(prefix: str) -> tuple[Path, Path | None]:
    """The cache dir for `prefix` + this memem's `index_digest`, and a scratch dir to build
    it in (None when the entry is already there)."""
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    final = CACHE_ROOT / f"{prefix}-{index_digest()}"
    if (final / READY).exists():
        return final, None
    others = sorted(
        (p for p in CACHE_ROOT.glob(f"{prefix}-*") if p != final and (p / READY).exists()),
        key=lambda p: p.stat().st_mtime,
    )
    for stale in others[:-KEEP_OTHERS]:
        log(f"removing stale cache {stale.name}")
        shutil.rmtree(stale, ignore_errors=True)
    return final, Path(tempfile.mkdtemp(prefix=f".{prefix}-", dir=CACHE_ROOT))


def _commit(scratch: Path, final: Path, meta: dict[str, Any]) -> None:
    (scratch / READY).write_text(json.dumps(meta), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(scratch, final)


def synth_index(n: int, seed: int = 7) -> tuple[Path, Path, dict[str, Any]]:
    """(state dir, vault dir, meta) of the synthetic vault of `n` memories with its index
    built by `Store.rebuild_index`. Treat both dirs as read-only: copy before writing."""
    final, scratch = _fresh(f"index-n{n}-s{seed}-g{synth.GENERATOR_VERSION}")
    if scratch is not None:
        source, _ = cached_vault(n, seed)
        try:
            start = time.perf_counter()
            link_tree(source, scratch / "vault")
            (scratch / "home").mkdir()
            store = Store.open(
                state_dir=scratch / "state",
                vault_dir=scratch / "vault",
                env={"HOME": str(scratch / "home")},
            )
            try:
                log(f"n={n}: building the index (cached afterwards in {final.name})")
                with heartbeat(f"n={n}: rebuilding"):
                    report = store.rebuild_index()
                store.index.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                store.close()
            meta = {"n": n, "rows": report.added, "build_s": round(time.perf_counter() - start, 1)}
            _commit(scratch, final, meta)
            log(f"n={n}: index built in {meta['build_s']} s")
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
    meta = json.loads((final / READY).read_text(encoding="utf-8"))
    return final / "state", final / "vault", meta


def vectors_file(n: int, seed: int = 7) -> Path:
    """Where the cached vectors of the synthetic vault of `n` memories live."""
    from memem.storage import embedder

    name = f"vectors-n{n}-s{seed}-g{synth.GENERATOR_VERSION}-{embedder.MODEL_ID}"
    return CACHE_ROOT / name / VECTORS


def synth_vectors(n: int, seed: int = 7, *, seconds: float | None = None) -> tuple[Path, int, int]:
    """(vectors file, vectors it holds for the vault's memories, memories) of the synthetic
    vault of `n` memories (`synth_index`), made by `Semantic.embed` where missing, for at most
    `seconds` (None: all). Treat the file as read-only: `scratch_copy` copies it."""
    from memem.service.semantic import Semantic

    state_src, vault, _ = synth_index(n, seed)
    cached = vectors_file(n, seed)
    cached.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".vectors-n{n}-", dir=CACHE_ROOT))
    try:
        state = scratch_copy(state_src, work / "state", cached if cached.exists() else None)
        link_tree(vault, work / "vault")
        store = Store.open(state_dir=state, vault_dir=work / "vault", env={"HOME": str(work)})
        semantic: Semantic = store.semantic
        try:
            semantic.refresh(store.index.connection())
            total, missing = semantic.status()["memories"], semantic.pending()
            if missing and (seconds is None or seconds > 0):
                log(f"n={n}: embedding {missing:,} texts (cached in {cached.parent.name})")
                deadline = time.monotonic() + (seconds if seconds is not None else float("inf"))
                start, made = time.perf_counter(), 0
                with heartbeat(f"n={n}: embedding"):
                    while semantic.pending() and time.monotonic() < deadline:
                        made += semantic.embed(limit=256)
                rate = made / (time.perf_counter() - start)
                log(f"n={n}: embedded {made:,} texts at {rate:.1f} texts/s")
            have = semantic.status()["vectors"]
        finally:
            store.close()  # the last connection checkpoints the WAL into the file
        if missing and (seconds is None or seconds > 0):
            tmp = cached.with_suffix(".tmp")
            shutil.copy2(state / VECTORS, tmp)
            os.replace(tmp, cached)
        return cached, have, total
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fill_random(state: Path, seed: int = 7) -> int:
    """Give every memory of the index in `state` without a vector in its vectors file a
    random unit vector (for speed figures only: searching a full matrix costs the same
    whatever its vectors; what recall finds does not). Returns how many were added."""
    import numpy as np

    from memem.core.memory import embedding_text
    from memem.service.semantic import text_hash
    from memem.storage import embedder, vectors

    conn = sqlite3.connect(f"file:{state / 'index.sqlite3'}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        rows = vectors.sources(conn)
    finally:
        conn.close()
    hashes = list(
        dict.fromkeys(
            text_hash(
                embedding_text(r["title"], r["content"], filter(None, r["situations"].split("\n")))
            )
            for r in rows
        )
    )
    cache = vectors.Cache(state / VECTORS)
    try:
        have = cache.get(embedder.MODEL_ID, hashes)
        missing = [h for h in hashes if h not in have]
        made = np.random.default_rng(seed).standard_normal((len(missing), embedder.DIMENSIONS))
        made = (made / np.linalg.norm(made, axis=1, keepdims=True)).astype(np.float32)
        cache.put(embedder.MODEL_ID, [(h, made[i].tobytes()) for i, h in enumerate(missing)])
    finally:
        cache.close()
    return len(missing)


def scratch_copy(state: Path, into: Path, vectors: Path | None = None) -> Path:
    """A private copy of a cached state dir (the index file; and `vectors`, a vectors file,
    as the copy's), for code that writes to it (session files, the WAL, new vectors): the
    cached one stays as built."""
    into.mkdir(parents=True, exist_ok=True)
    for name in os.listdir(state):
        if name.startswith("index.sqlite3"):
            shutil.copy2(state / name, into / name)
    if vectors is not None:
        shutil.copy2(vectors, into / VECTORS)
    return into


def locomo_stores(
    conversations: Sequence[locomo.Conversation], *, mode: str = "add", title: str = "words"
) -> dict[str, locomo.Ingested]:
    """sample_id -> the conversation saved into its own fresh Store (state and vault dirs
    under the cache), with its dia_id -> memory id map. See `locomo.ingest` for `mode` and
    `title`. Built once per memem version, data file and options."""
    digest = locomo.data_digest()
    final, scratch = _fresh(f"locomo-{mode}-{title}-{digest}")
    if scratch is not None:
        try:
            start = time.perf_counter()
            for conv in conversations:
                t0 = time.perf_counter()
                root = scratch / conv.sample_id
                (root / "home").mkdir(parents=True)
                store = Store.open(
                    state_dir=root / "state",
                    vault_dir=root / "vault",
                    env={"HOME": str(root / "home")},
                )
                try:
                    with heartbeat(f"{conv.sample_id}: saving {len(conv.turns)} turns"):
                        ingested = locomo.ingest(store, conv, mode=mode, title=title)
                    store.index.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    store.close()
                (root / "ingested.json").write_text(
                    json.dumps(ingested.to_dict()), encoding="utf-8"
                )
                log(
                    f"{conv.sample_id}: {len(conv.turns)} turns -> "
                    f"{len(set(ingested.memory_of.values()))} memories in "
                    f"{time.perf_counter() - t0:.1f} s ({mode})"
                )
            meta = {"mode": mode, "title": title, "build_s": round(time.perf_counter() - start, 1)}
            _commit(scratch, final, meta)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
    built: dict[str, locomo.Ingested] = {}
    for conv in conversations:
        root = final / conv.sample_id
        data = json.loads((root / "ingested.json").read_text(encoding="utf-8"))
        built[conv.sample_id] = locomo.Ingested.from_dict(data, root / "state", root / "vault")
    return built
