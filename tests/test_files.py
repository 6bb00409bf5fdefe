"""`write_atomic`, the one atomic write: the target holds the old bytes or the new ones, never a
mix, never nothing; no temp file survives; the mode is exactly the one asked for."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memem.storage import files
from memem.storage.files import DIR_MODE, FILE_MODE, temp_name, write_atomic
from memem.storage.vault import Vault


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process umask after a test that changes it."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def test_creates_the_file_with_exactly_the_bytes(tmp_path: Path) -> None:
    target = tmp_path / "note.md"
    write_atomic(target, b"hello\nworld\n")
    assert target.read_bytes() == b"hello\nworld\n"
    assert leftovers(tmp_path) == []


def test_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "note.md"
    target.write_bytes(b"old content that is longer than the new one")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert leftovers(tmp_path) == []


def test_the_replacement_is_a_new_file_not_a_rewrite_in_place(tmp_path: Path) -> None:
    """A reader holding the old file open keeps reading the old bytes: the rename swaps the
    name to a new inode instead of truncating the one being read."""
    target = tmp_path / "note.md"
    target.write_bytes(b"old bytes")
    with open(target, "rb") as reader:
        write_atomic(target, b"new bytes")
        assert reader.read() == b"old bytes"
    assert target.read_bytes() == b"new bytes"


def test_accepts_a_string_path_and_a_relative_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_atomic(str(tmp_path / "a.txt"), b"a")
    monkeypatch.chdir(tmp_path)
    write_atomic("b.txt", b"b")
    assert (tmp_path / "a.txt").read_bytes() == b"a"
    assert (tmp_path / "b.txt").read_bytes() == b"b"
    assert leftovers(tmp_path) == []


def test_an_empty_payload_gives_an_empty_file(tmp_path: Path) -> None:
    target = tmp_path / "empty"
    target.write_bytes(b"something")
    write_atomic(target, b"")
    assert target.read_bytes() == b""


def test_a_large_payload_is_written_whole(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    target = tmp_path / "big.bin"
    write_atomic(target, data)
    assert target.read_bytes() == data


def test_accepts_a_bytearray_and_a_memoryview(tmp_path: Path) -> None:
    write_atomic(tmp_path / "a", bytearray(b"from a bytearray"))
    write_atomic(tmp_path / "b", memoryview(b"from a memoryview"))
    assert (tmp_path / "a").read_bytes() == b"from a bytearray"
    assert (tmp_path / "b").read_bytes() == b"from a memoryview"


def test_a_missing_parent_directory_is_created_private(tmp_path: Path, umask: None) -> None:
    os.umask(0)
    target = tmp_path / "state" / "note.md"
    write_atomic(target, b"x")
    assert target.read_bytes() == b"x"
    assert mode_of(tmp_path / "state") == DIR_MODE


def test_every_missing_parent_directory_is_created_private(tmp_path: Path, umask: None) -> None:
    os.umask(0)
    target = tmp_path / "deep" / "er" / "note.md"
    write_atomic(target, b"x")
    assert mode_of(tmp_path / "deep" / "er") == DIR_MODE
    assert mode_of(tmp_path / "deep") == DIR_MODE


@pytest.mark.parametrize("mask", [0o000, 0o002, 0o022, 0o077])
@pytest.mark.parametrize("mode", [FILE_MODE, 0o644, 0o400])
def test_the_file_mode_is_exactly_the_one_asked_for_whatever_the_umask(
    tmp_path: Path, umask: None, mask: int, mode: int
) -> None:
    """A wide umask (0) must not leave a memory world-readable; a narrow one must not take
    away what the caller asked for (the daemon's status file is read by other processes)."""
    os.umask(mask)
    target = tmp_path / "file"
    write_atomic(target, b"data", mode=mode)
    assert mode_of(target) == mode


def test_a_world_readable_file_becomes_private_when_rewritten(tmp_path: Path) -> None:
    target = tmp_path / "note.md"
    target.write_bytes(b"old")
    target.chmod(0o666)
    write_atomic(target, b"new")
    assert mode_of(target) == FILE_MODE


def test_a_symlink_at_the_target_is_replaced_not_followed(tmp_path: Path) -> None:
    """The rename replaces the link itself: a link planted at a memory's name cannot make
    memem overwrite the file it points to."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    target = tmp_path / "note.md"
    target.symlink_to(victim)
    write_atomic(target, b"memory")
    assert not target.is_symlink()
    assert target.read_bytes() == b"memory"
    assert victim.read_bytes() == b"precious"


def test_a_symlink_planted_at_the_temp_name_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another local user who guessed the temp name and planted a symlink there makes the
    write fail; the file the link points to is untouched, and so is the target. (The temp
    name is random: the test fixes it, the one way to plant something there.)"""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    target = tmp_path / "note.md"
    target.write_bytes(b"old memory")
    planted = tmp_path / ".note.md.1.deadbeef.tmp"
    planted.symlink_to(victim)
    monkeypatch.setattr(files, "temp_name", lambda _target: str(planted))
    with pytest.raises(FileExistsError):
        write_atomic(target, b"new memory")
    assert victim.read_bytes() == b"precious"
    assert target.read_bytes() == b"old memory"


def test_a_fifo_planted_at_the_temp_name_fails_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = tmp_path / ".note.md.1.deadbeef.tmp"
    os.mkfifo(planted)
    monkeypatch.setattr(files, "temp_name", lambda _target: str(planted))
    with pytest.raises(FileExistsError):
        write_atomic(tmp_path / "note.md", b"new")
    assert not (tmp_path / "note.md").exists()


def test_a_directory_at_the_target_fails_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "note.md"
    target.mkdir()
    (target / "inside").write_bytes(b"kept")
    with pytest.raises(OSError):
        write_atomic(target, b"new")
    assert target.is_dir()
    assert (target / "inside").read_bytes() == b"kept"
    assert leftovers(tmp_path) == []


def test_a_failure_while_writing_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    """Data that cannot be written (here: not bytes) fails after the temp file was opened:
    the temp is removed and the target keeps its old bytes."""
    target = tmp_path / "note.md"
    target.write_bytes(b"old memory")
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old memory"
    assert leftovers(tmp_path) == []


def test_a_parent_that_is_a_file_fails_cleanly(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"a file, not a directory")
    with pytest.raises(OSError):
        write_atomic(blocker / "note.md", b"x")
    assert blocker.read_bytes() == b"a file, not a directory"


def test_durable_false_is_still_atomic_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "session.json"
    target.write_bytes(b'{"old": true}')
    with open(target, "rb") as reader:
        write_atomic(target, b'{"new": true}', durable=False)
        assert reader.read() == b'{"old": true}'
    assert target.read_bytes() == b'{"new": true}'
    assert mode_of(target) == FILE_MODE
    assert leftovers(tmp_path) == []


def test_concurrent_writers_never_mix_their_bytes(tmp_path: Path) -> None:
    """Eight threads rewrite one file: every read sees one writer's payload whole."""
    target = tmp_path / "shared"
    payloads = [bytes([65 + n]) * 200_000 for n in range(8)]
    write_atomic(target, payloads[0])
    seen: set[bytes] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            seen.add(target.read_bytes())

    def writer(data: bytes) -> None:
        for _ in range(5):
            write_atomic(target, data, durable=False)

    watcher = threading.Thread(target=reader)
    watcher.start()
    writers = [threading.Thread(target=writer, args=(p,)) for p in payloads]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    watcher.join()
    assert seen <= set(payloads)
    assert target.read_bytes() in payloads
    assert leftovers(tmp_path) == []


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=4096))
def test_any_bytes_round_trip(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    target = tmp_path_factory.mktemp("rt") / "file"
    write_atomic(target, data, durable=False)
    assert target.read_bytes() == data


def test_temp_names_sit_next_to_the_target_hidden_and_unique(tmp_path: Path) -> None:
    target = tmp_path / "note.md"
    names = {temp_name(target) for _ in range(50)}
    assert len(names) == 50
    for name in names:
        head, tail = os.path.split(name)
        assert head == str(tmp_path)
        assert tail.startswith(f".note.md.{os.getpid()}.")
        assert tail.endswith(".tmp")


def test_a_crashed_writers_temp_name_is_one_the_vault_cleans_up(tmp_path: Path) -> None:
    """The pid in the temp name is what lets the vault tell a crash's leftover (its writer
    gone) from a write in progress (this live process's)."""
    vault = Vault(tmp_path / "vault")
    vault.ensure()
    live = Path(temp_name(vault.memories_dir / "note.md"))
    live.write_bytes(b"being written")
    dead = Path(str(live).replace(f".{os.getpid()}.", f".{2**22 + 12345}."))
    dead.write_bytes(b"left by a crash")
    assert vault.remove_orphan_temps() == [dead.name]
    assert live.exists()
    assert not dead.exists()
