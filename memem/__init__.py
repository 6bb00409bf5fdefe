"""memem: persistent, self-evolving memory for Claude Code.

    from memem import Store
    store = Store.open()            # MEMEM_DIR / MEMEM_OBSIDIAN_VAULT, or state_dir= / vault_dir=
    store.save("We deploy with Fly.io", project="shop")
    for hit in store.search("how do we deploy?"):
        print(hit.id, hit.score, hit.title)

Names are imported lazily, the errors too: a hook that the engine answers imports nothing
of memem but its client (memem.engine.client) and pays only for that.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from memem.core.memory import Memory
    from memem.errors import (
        BrokenFile,
        ConfigError,
        InvalidInput,
        MememError,
        NotFound,
        SecurityError,
        TooLarge,
    )
    from memem.service.store import Hit, Store

__version__ = "0.1.0"
__all__ = [
    "BrokenFile",
    "ConfigError",
    "Hit",
    "InvalidInput",
    "MememError",
    "Memory",
    "NotFound",
    "SecurityError",
    "Store",
    "TooLarge",
]


def __getattr__(name: str) -> Any:
    if name in ("Store", "Hit"):
        from memem.service import store

        return getattr(store, name)
    if name == "Memory":
        from memem.core.memory import Memory

        return Memory
    if name in __all__:
        from memem import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'memem' has no attribute {name!r}")
