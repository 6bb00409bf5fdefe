"""The documents an import reads: a file or a folder walked with directory descriptors.

Pure file I/O, no memory logic. Every path is opened one component at a time from the root
without following links (`O_NOFOLLOW`), so a folder or file swapped for a symlink after the
walk listed it fails to open instead of leading out of the root; FIFOs and devices are refused
unread; files over MAX_IMPORT_BYTES are refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import Final

from memem.errors import InvalidInput, TooLarge
from memem.storage.vault import NOT_UTF8_NAME

MAX_IMPORT_BYTES: Final = 1024 * 1024
DOCUMENT_SUFFIXES: Final = (".md", ".markdown", ".txt")
_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS: Final = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class Document:
    """A document `documents` found: `shown` names it in reports and titles (valid text even
    when the name on disk is not UTF-8); `parts`, its path below the root directory, opened
    one component at a time (`read_document`); `skipped`, why it is not read."""

    shown: Path
    parts: tuple[str, ...] = ()
    skipped: str | None = None


def printable(path: str | Path) -> Path:
    """A path as text that can be printed and stored: bytes that are not UTF-8 as \\xNN."""
    return Path(os.fsencode(path).decode("utf-8", "backslashreplace"))


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")  # a name with undecodable bytes holds surrogate escapes
    except UnicodeEncodeError:
        return False
    return True


@contextmanager
def opened_root(root: Path) -> Iterator[tuple[int, Path, tuple[str, ...]]]:
    """The directory every document is opened from, its real path, and the parts of the one
    document when `root` names a file. A link named by the user is their choice: it is
    resolved once, here; below this point nothing follows a link that is not resolved and
    checked to stay inside the root."""
    try:
        real = Path(os.path.realpath(root, strict=True))
    except OSError as exc:  # a symlink loop, a dangling link
        raise InvalidInput(f"cannot open {printable(root)}: {exc.strerror or exc}") from None
    parts: tuple[str, ...] = ()
    base = real
    if not real.is_dir():
        if not _utf8(root.name) or not _utf8(real.name):
            raise InvalidInput(f"{printable(root)}: {NOT_UTF8_NAME}")
        base, parts = real.parent, (real.name,)
    try:
        fd = os.open(base, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    except OSError as exc:
        raise InvalidInput(f"cannot open {printable(base)}: {exc.strerror or exc}") from None
    try:
        yield fd, base, parts
    finally:
        os.close(fd)


def _open_dir(root_fd: int, parts: Sequence[str]) -> int:
    """A directory below the root, each component opened relative to its parent's descriptor
    without following links: a folder swapped for a symlink after it was listed (a
    time-of-check/time-of-use race) fails to open instead of leading out of the root."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def documents(root: Path, root_fd: int, real_root: Path) -> Iterator[Document]:
    """The documents in the directory `root` (open as `root_fd`, really `real_root`), each
    with the reason it is skipped, if it is.

    A symlink is followed only to a file inside the root (resolved); one that leads out of it
    (to `~/.netrc`, to `/etc`), dangles or loops is skipped and reported. Symlinked
    directories are never descended: their targets inside the root are walked anyway, and
    this rules out loops. Hidden files and directories are skipped; so is a name that is not
    UTF-8 (reported: no title or report could carry it). Every path is opened again, one
    component at a time from the root, when it is read (`read_document`)."""
    stack: list[tuple[str, ...]] = [()]
    while stack:
        rel = stack.pop()
        where = printable(root.joinpath(*rel))
        try:
            fd = _open_dir(root_fd, rel)
        except OSError as exc:
            yield Document(where, skipped=f"cannot read directory: {exc.strerror or exc}")
            continue
        try:
            # Types are read while the directory is open: without d_type an entry stats
            # itself relative to this descriptor.
            with os.scandir(fd) as it:
                entries = sorted((_kind(entry) for entry in it), key=lambda e: e[0])
        except OSError as exc:
            yield Document(where, skipped=f"cannot read directory: {exc.strerror or exc}")
            continue
        finally:
            os.close(fd)
        found: list[Document] = []
        subdirs: list[tuple[str, ...]] = []
        for name, is_link, is_dir, problem in entries:
            if name.startswith("."):
                continue
            shown = where / printable(name)
            document = Path(name).suffix.lower() in DOCUMENT_SUFFIXES
            if problem:
                found.append(Document(shown, skipped=f"cannot read: {problem}"))
                continue
            if not _utf8(name):
                if document or is_dir or is_link:
                    found.append(Document(shown, skipped=NOT_UTF8_NAME))
                continue
            if is_link:
                found.extend(_link(shown, real_root, (*rel, name), document))
            elif is_dir:
                subdirs.append((*rel, name))
            elif document:
                found.append(Document(shown, (*rel, name)))
        yield from found
        stack.extend(reversed(subdirs))


def _kind(entry: os.DirEntry[str]) -> tuple[str, bool, bool, str]:
    """An entry's name, whether it is a symlink, a directory (not followed), and the error
    met reading its type, if any."""
    try:
        is_link = entry.is_symlink()
        return entry.name, is_link, not is_link and entry.is_dir(follow_symlinks=False), ""
    except OSError as exc:
        return entry.name, False, False, str(exc.strerror or exc)


def _link(shown: Path, real_root: Path, parts: tuple[str, ...], document: bool) -> list[Document]:
    """A symlink found in the walk: the file inside the root it resolves to, or why not."""
    try:
        target = Path(os.path.realpath(real_root.joinpath(*parts), strict=True))
    except OSError as exc:  # ELOOP for a loop, ENOENT for a dangling link
        return [Document(shown, skipped=f"symlink cannot be resolved: {exc.strerror or exc}")]
    if not target.is_relative_to(real_root):
        return [Document(shown, skipped=f"symlink to {printable(target)}, outside the folder")]
    if not document or target.is_dir():
        return []
    inside = target.relative_to(real_root).parts
    if not all(_utf8(part) for part in inside):
        return [Document(shown, skipped=NOT_UTF8_NAME)]
    return [Document(shown, inside)]


def read_document(root_fd: int, parts: Sequence[str]) -> bytes:
    """A regular file's bytes, at most MAX_IMPORT_BYTES. Every component is opened relative to
    the root without following a link (`documents` gives resolved paths, so a link met here
    was swapped in after the walk) and the file without blocking, so a FIFO or a device that
    took a file's place is refused, never read."""
    flags = os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW | getattr(os, "O_NOCTTY", 0) | os.O_CLOEXEC
    try:
        parent = _open_dir(root_fd, parts[:-1])
        try:
            fd = os.open(parts[-1], flags, dir_fd=parent)
        finally:
            os.close(parent)
    except OSError as exc:
        raise InvalidInput(f"cannot open: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(fd)
        if not S_ISREG(st.st_mode):
            raise InvalidInput("not a regular file")
        if st.st_size > MAX_IMPORT_BYTES:
            raise TooLarge("file over 1 MiB")
        data = handle.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise TooLarge("file over 1 MiB")
    return data
