"""The Obsidian vault: memory files on disk. The only module that writes memory files.

Writes are atomic (a unique temp file in the same directory, fsync, `os.replace`, fsync of the
directory) with 0600 files in 0700 directories. A file that cannot be read as a memory raises
`BrokenFile` and is left exactly as it is.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from memem.errors import BrokenFile, InvalidInput, Quarantined
from memem.memory import Memory

MAX_FILE_BYTES: Final = 1024 * 1024
DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600


@dataclass(frozen=True, slots=True)
class FileStat:
    """What reconcile compares: a file's name (relative to the memories dir), mtime and size."""

    name: str
    mtime_ns: int
    size: int


@dataclass(frozen=True, slots=True)
class ReadFile:
    memory: Memory
    stat: FileStat
    hash: str


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fallback_id(name: str) -> str:
    """A stable id for a note written without one (in Obsidian): derived from its file name."""
    return hashlib.sha256(f"memem-note:{name}".encode()).hexdigest()[:32]


class Vault:
    """Memory files under `<root>/memem/memories`, playbooks under `<root>/memem/playbooks`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.memories_dir = root / "memem" / "memories"
        self.playbooks_dir = root / "memem" / "playbooks"

    def ensure(self) -> None:
        for directory in (self.root, self.root / "memem", self.memories_dir, self.playbooks_dir):
            directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        for directory in (self.root / "memem", self.memories_dir, self.playbooks_dir):
            if stat.S_IMODE(directory.stat().st_mode) != DIR_MODE:
                directory.chmod(DIR_MODE)

    def path(self, name: str) -> Path:
        """The path of a memory file by name, refusing anything that could leave the folder."""
        if not name.endswith(".md") or "/" in name or "\\" in name or name.startswith("."):
            raise InvalidInput(f"not a memory file name: {name!r}")
        return self.memories_dir / name

    def free_name(self, memory: Memory) -> str:
        """`<slug>-<short id>.md`, with more of the id when another file already has that name."""
        name = memory.filename
        if (self.memories_dir / name).exists():
            name = name.removesuffix(f"{memory.short_id}.md") + f"{memory.id}.md"
        return name

    def write(
        self, memory: Memory, name: str, links: Mapping[str, str] | None = None
    ) -> tuple[FileStat, str]:
        """Atomically write `memory` to the file `name`; return what reconcile will see."""
        from memem import markdown  # read commands that find nothing changed never need it

        data = markdown.render(memory, links).encode("utf-8")
        target = self.path(name)
        self._atomic_write(target, data)
        st = target.stat()
        return FileStat(name, st.st_mtime_ns, st.st_size), content_hash(data)

    def write_text(self, path: Path, text: str) -> None:
        """Atomically write a non-memory vault file (a playbook)."""
        self._atomic_write(path, text.encode("utf-8"))

    @staticmethod
    def _atomic_write(target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, FILE_MODE)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def scan(self) -> Iterator[FileStat]:
        """Every visible `*.md` file in the memories dir (temp files start with a dot)."""
        try:
            entries = os.scandir(self.memories_dir)
        except FileNotFoundError:
            return
        with entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.name.endswith(".md"):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    yield FileStat(entry.name, st.st_mtime_ns, st.st_size)

    def read(self, name: str) -> ReadFile:
        """Read and parse one memory file. Raises BrokenFile (with the reason) if it is not one."""
        path = self.path(name)
        try:
            with open(path, "rb") as handle:
                st = os.fstat(handle.fileno())
                if st.st_size > MAX_FILE_BYTES:
                    raise BrokenFile(
                        name, f"file too large ({st.st_size:,} bytes, limit {MAX_FILE_BYTES:,})"
                    )
                data = handle.read(st.st_size + 1)
        except OSError as exc:
            raise BrokenFile(name, f"cannot read: {exc.strerror or exc}") from None
        if b"\x00" in data:
            raise BrokenFile(name, "binary file (contains NUL bytes)")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BrokenFile(name, f"invalid UTF-8 at byte {exc.start}") from None
        from memem import markdown

        mtime = datetime.fromtimestamp(st.st_mtime, UTC)
        try:
            memory = markdown.parse(
                text,
                fallback_id=fallback_id(name),
                fallback_time=mtime,
                fallback_title=name.removesuffix(".md"),
            )
        except InvalidInput as exc:
            raise BrokenFile(name, str(exc)) from None
        return ReadFile(memory, FileStat(name, st.st_mtime_ns, st.st_size), content_hash(data))


def vet(memory: Memory, file: str, *, released: bool = False) -> Memory:
    """A file's memory after the checks an edit made outside memem must pass: refused content
    raises Quarantined (unless the user `released` this very content); secrets are kept out
    of the index (the file is the user's and is not rewritten behind their back)."""
    from memem import security

    title, content = security.scan(memory.title), security.scan(memory.content)
    for scanned in (title, content):
        if scanned.refused and not released:
            raise Quarantined(file, scanned.reason(), memory.id)
    if title.redactions or content.redactions:
        return memory.evolve(title=title.text, content=content.text)
    return memory
