"""How the CLI writes: JSON, memories, short ids, layer counts, progress on a terminal; how
it reads standard input; and `Usage`, the error for a command used the wrong way (exit 2)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from memem.errors import InvalidInput, MememError

if TYPE_CHECKING:
    from memem.core.memory import Memory
    from memem.service.store import Store

# How a command module registers its subcommands: memem.cli's `add(name, handler, help)`.
Add = Callable[[str, Callable[["Store", argparse.Namespace], int] | None, str], Any]


class Usage(MememError):
    """A command used the wrong way: one line on stderr, exit 2."""


class Progress:
    """One line on a terminal rewritten in place as work goes on ("reading 4,000/10,000
    memories..."); `end` clears it. Only for a terminal: scripts and tests see nothing."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False

    def __call__(self, phase: str, done: int, total: int) -> None:
        count = f"{done:,}/{total:,}" if done else f"{total:,}"
        self.stream.write(f"\r\x1b[K{phase} {count} memories...")
        self.stream.flush()
        self.shown = True

    def end(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def progress(stream: TextIO) -> Progress | None:
    """A `Progress` on `stream` when it is a terminal, else None."""
    return Progress(stream) if stream.isatty() else None


def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def layer_line(layers: dict[int, int] | Any) -> str:
    return " · ".join(f"L{k} {v}" for k, v in sorted(layers.items()))


def short(memory_id: str) -> str:
    from memem.core.fence import short_id  # a hand-written id may read as the slice's fence

    return short_id(memory_id)


def show(memory: Memory) -> None:
    print(f"# {memory.title}")
    print(
        f"id {memory.id} · {memory.project} · L{memory.layer} · importance {memory.importance} "
        f"· {memory.status} · {memory.source_type} · created {memory.created:%Y-%m-%d %H:%M}"
    )
    if memory.tags:
        print("tags " + ", ".join(memory.tags))
    for situation in memory.situations:
        print(f"when: {situation}")
    if memory.valid_to:
        print(f"valid to {memory.valid_to:%Y-%m-%d %H:%M}")
    print()
    from memem.core.fence import visible  # a synced or hand-written file: no terminal escapes

    print(visible(memory.content))
    if memory.related:
        print("\nrelated: " + " ".join(short(i) for i in memory.related))


def read_stdin() -> str:
    """Standard input as text; bytes that are not UTF-8 are the user's mistake, not ours."""
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"standard input is not valid UTF-8 (byte {exc.start})") from None


def undecodable(argv: Sequence[str]) -> int | None:
    """The 1-based position of the first argument that is not valid UTF-8, if any. Python
    hands such bytes over as lone surrogates (surrogateescape), which fail much later, on
    the first encode, as an internal error."""
    for n, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return n
    return None


class _Routed(io.TextIOBase):
    """sys.stdout or sys.stderr in the engine: a thread that runs a client's command writes
    to that command's buffer, every other thread to the real stream."""

    def __init__(self, real: TextIO, local: threading.local, name: str) -> None:
        self._real = real
        self._local = local
        self._name = name

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        buffer = getattr(self._local, self._name, None)
        return (buffer if buffer is not None else self._real).write(text)

    def flush(self) -> None:
        if getattr(self._local, self._name, None) is None:
            self._real.flush()


_local = threading.local()
_routing = threading.Lock()


@contextlib.contextmanager
def captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """What this thread prints, into two buffers (stdout, stderr): the engine runs clients'
    commands on worker threads, each printing as the client's own process would."""
    with _routing:
        if not isinstance(sys.stdout, _Routed):
            sys.stdout = _Routed(sys.stdout, _local, "out")
        if not isinstance(sys.stderr, _Routed):
            sys.stderr = _Routed(sys.stderr, _local, "err")
    out, err = io.StringIO(), io.StringIO()
    _local.out, _local.err = out, err
    try:
        yield out, err
    finally:
        _local.out = _local.err = None
