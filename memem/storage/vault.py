"""The Obsidian vault: memory files on disk. The only module that writes memory files.

Writes are atomic (a unique temp file in the same directory, fsync, `os.replace`, fsync of the
directory) with 0600 files in 0700 directories. A file that cannot be read as a memory raises
`BrokenFile` and is left exactly as it is.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from memem.core.memory import Memory
from memem.errors import BrokenFile, InvalidInput, Quarantined
from memem.storage.files import write_atomic

log = logging.getLogger("memem.storage.vault")

if TYPE_CHECKING:
    from memem.core.security import Scan

MAX_FILE_BYTES: Final = 1024 * 1024
# A temp file (`.<name>.<writer pid>.<random>.tmp`) whose writer is gone is a crash's leftover.
# One without a live writer's pid in its name (an older memem's) is removed once this old, and
# so is any past the second age, whose pid may have been reused.
STALE_TEMP_SECONDS: Final = 3600
DEAD_TEMP_SECONDS: Final = 24 * 3600
_TEMP_NAME: Final = re.compile(r"\..+?\.(?:(\d+)\.)?[a-z0-9_]{8}\.tmp")
NOT_UTF8_NAME: Final = "file name is not valid UTF-8"
DIR_MODE: Final = 0o700


@dataclass(frozen=True, slots=True)
class FileStat:
    """What reconcile compares: a file's name (relative to the memories dir), mtime and size.
    `problem` says why the file cannot be read at all (its name is not UTF-8: `name` then
    shows the bad bytes as \\xNN, so that it can be printed and stored): it is a broken file."""

    name: str
    mtime_ns: int
    size: int
    problem: str = ""


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
        self,
        memory: Memory,
        name: str,
        links: Mapping[str, str] | None = None,
        *,
        durable: bool = True,
    ) -> tuple[FileStat, str]:
        """Atomically write `memory` to the file `name`; return what reconcile will see.
        `durable=False`: see `write_bytes`."""
        from memem.core import markdown  # read commands that find nothing changed never need it

        data = markdown.render(memory, links).encode("utf-8")
        st = self.write_bytes(name, data, durable=durable)
        return st, content_hash(data)

    def write_bytes(self, name: str, data: bytes, *, durable: bool = True) -> FileStat:
        """Atomically write a memory file's rendered bytes; the rename is the commit point.
        `durable=False` leaves the fsyncs to one `flush()` after a batch (sync writing
        thousands of files it can fetch again)."""
        target = self.path(name)
        write_atomic(target, data, durable=durable)
        st = target.stat()
        return FileStat(name, st.st_mtime_ns, st.st_size)

    def flush(self) -> None:
        """Make the writes made with `durable=False` durable (one sync of the disks)."""
        os.sync()

    def remove_orphan_temps(self, *, now: float | None = None) -> list[str]:
        """Delete temp files a crashed writer left behind (only memem's own temp names, only
        when no live process can still be writing them); return their names."""
        now = time.time() if now is None else now
        removed: list[str] = []
        for directory in (self.memories_dir, self.playbooks_dir):
            try:
                entries = list(os.scandir(directory))
            except FileNotFoundError:
                continue
            for entry in entries:
                match = _TEMP_NAME.fullmatch(entry.name)
                if match is None or not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    age = now - entry.stat(follow_symlinks=False).st_mtime
                except FileNotFoundError:
                    continue
                pid = int(match.group(1)) if match.group(1) else None
                stale = age > DEAD_TEMP_SECONDS or (
                    age > STALE_TEMP_SECONDS if pid is None else not alive(pid)
                )
                if stale:
                    Path(entry.path).unlink(missing_ok=True)
                    removed.append(entry.name)
        return removed

    def write_text(self, path: Path, text: str) -> None:
        """Atomically write a non-memory vault file (a playbook)."""
        write_atomic(path, text.encode("utf-8"))

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
                if not stat.S_ISREG(st.st_mode):
                    continue
                try:
                    entry.name.encode("utf-8")  # undecodable bytes are surrogate escapes
                except UnicodeEncodeError:
                    shown = os.fsencode(entry.name).decode("utf-8", "backslashreplace")
                    yield FileStat(shown, st.st_mtime_ns, st.st_size, NOT_UTF8_NAME)
                    continue
                yield FileStat(entry.name, st.st_mtime_ns, st.st_size)

    def read(self, name: str) -> ReadFile:
        """Read and parse one memory file. Raises BrokenFile (with the reason) if it is not one."""
        path = self.path(name)
        try:
            # O_NONBLOCK: a FIFO put at a memory's name after the scan fails the type check
            # below instead of blocking the reader forever.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            with open(fd, "rb") as handle:
                st = os.fstat(handle.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise BrokenFile(name, "not a regular file")
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
        from memem.core import markdown

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
        if memory.provenance is None and "\nprovenance:" in text:
            _refused_provenance(name, text)
        return ReadFile(memory, FileStat(name, st.st_mtime_ns, st.st_size), content_hash(data))


def _refused_provenance(name: str, text: str) -> None:
    """Log why a file's `provenance` was dropped (it is read without it): anything but a
    pointer (memem.core.provenance) is refused, never fatal to the file."""
    from memem.core import markdown, provenance

    meta, _ = markdown.split(text)
    if "provenance" not in meta or meta["provenance"] is None:
        return  # the word was in the body, or the key is empty
    try:
        provenance.check(meta["provenance"])
    except InvalidInput as exc:
        log.warning("ignored a memory's provenance", extra={"file": name, "reason": str(exc)})


def alive(pid: int) -> bool:
    """Whether a process with this pid is running (this one included)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    except OSError:
        return False
    return True


def vet(memory: Memory, file: str, *, released: bool = False) -> Memory:
    """A file's memory after the checks an edit made outside memem must pass: refused text
    (in any field or unknown key) raises Quarantined (unless the user `released` this very
    content); secrets (in the title, content, project, tags, situations, branch or unknown
    keys) are kept out of the index (the file is the user's and is not rewritten behind
    their back)."""
    from memem.core import security

    scans = [security.scan(memory.title), security.scan(memory.content)]
    scans += [_scan_name(text) for text in (memory.project, *memory.tags)]
    # Tags are stored lowercased, which hides keys whose pattern is upper case (AKIA...):
    # a tag is also scanned upper-cased, and redacted whole if that finds a secret.
    for n, tag in enumerate(memory.tags, start=3):
        upper = _scan_name(tag.upper())
        if upper.redactions and not scans[n].redactions:
            scans[n] = upper
    # The situations are scanned as one text, one a line: a scan costs mostly its fixed part.
    told = [security.scan("\n".join(memory.situations))] if memory.situations else []
    branch = [_scan_name(memory.branch)] if memory.branch else []
    # Unknown keys (`author` from a teammate's commit among them) reach the model through
    # memory_get: their text is refused like the rest, scanned as one text.
    keys = [security.scan("\n".join(_texts(memory.extra)))] if memory.extra else []
    for scanned in (*scans, *told, *branch, *keys):
        if scanned.refused and not released:
            raise Quarantined(file, scanned.reason(), memory.id)
    if memory.provenance is not None:
        pointer = memory.provenance
        if security.scan(" ".join((pointer.session, *pointer.entries))).redactions:
            # An identifier shaped like a token: the pointer goes, the memory stays.
            log.warning("ignored a provenance holding a secret", extra={"file": file})
            memory = memory.evolve(provenance=None)
    extra = _scrub_extra(memory.extra)
    if any(scanned.redactions for scanned in (*scans, *told, *branch)) or extra != memory.extra:
        title, content, project, *tags = (scanned.text for scanned in scans)
        return memory.evolve(
            title=title,
            content=content,
            project=project,
            tags=tags,
            situations=_lines(told[0].text, len(memory.situations)) if told else (),
            extra=extra,
            branch=branch[0].text if branch else None,
        )
    return memory


def _lines(text: str, count: int) -> list[str]:
    """Situations back from their scanned text, or none when a redaction joined lines (then a
    line no longer says which situation it was)."""
    lines = text.split("\n")
    return lines if len(lines) == count else []


@functools.lru_cache(maxsize=4096)
def _scan_name(text: str) -> Scan:
    """The scan of a project or a tag: the same few names recur across a vault, and a rebuild
    vets every file (a scan is a pure function of the text, so a remembered one is the same)."""
    from memem.core import security

    return security.scan(text)


def _texts(value: Any) -> list[str]:
    """Every string in a frontmatter value (mappings, lists), keys included."""
    if isinstance(value, Mapping):
        return [t for k, v in value.items() for t in (str(k), *_texts(v))]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _texts(v)]
    return [value] if isinstance(value, str) else []


def _scrub_extra(value: Any, key: str = "") -> Any:
    """Unknown frontmatter keys with their secrets redacted. A value is scanned with its key
    (`api_key: ...` is a secret where the bare value may not look like one) and replaced
    whole when the scan redacts anything."""
    from memem.core import security

    if isinstance(value, Mapping):
        return {k: _scrub_extra(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_extra(v, key) for v in value]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        scanned = security.scan(f"{key}: {value}")
        if scanned.redactions:
            return f"[REDACTED:{scanned.redactions[0].kind}]"
    return value
