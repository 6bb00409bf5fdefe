"""`Value`: the base of memem's records (equality, hash and repr from `__slots__`).

Not `dataclasses`: importing it costs a hook process ~15 ms (it pulls in `inspect`), and each
record it builds another 0.5 ms, on every prompt. A record lists its fields in `__slots__`,
declares them `Final` (mypy keeps them read-only; so does `Value` at run time) and writes its
own `__init__`; records are not subclassed (`__slots__` names all the fields).

Only the modules the hook's in-process fallback imports define their records this way, import
`typing` only under `TYPE_CHECKING = False` and spell paths with `os.path` (the list is
`HOOK_FALLBACK` in tests/test_architecture.py; tests/test_hook.py checks what a hook process
loads); the rest of memem is ordinary Python: frozen dataclasses, `typing`, `pathlib`.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Self


class Value:
    """Immutable once built: a field is set once (in `__init__`), never again."""

    __slots__: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, name):
            raise AttributeError(f"{self.__class__.__name__}.{name} is read-only")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{self.__class__.__name__}.{name} is read-only")

    def fields(self) -> dict[str, Any]:
        """The record's fields by name, in `__slots__` order."""
        return {name: getattr(self, name) for name in self.__slots__}

    def evolve(self, **changes: Any) -> Self:
        """A copy with some fields changed, built (and so checked) by the record's `__init__`."""
        return self.__class__(**{**self.fields(), **changes})

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self.__slots__))

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{self.__class__.__name__}({shown})"
