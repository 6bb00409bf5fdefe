"""The local side of a sync: every vault memory in a remote's form, by id.

For each memory file: its id, project, whether it is private, the git blob sha of its
remote form (`memem.core.merge.remote_form`) and what keeps it from leaving ("" when
nothing does: a secret or a refused text, found by the scan, holds it back). Kept in
`<state>/sync/files.json` by file name with the file's mtime and size, so a sync reads only
the files that changed since the last one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from memem.core import merge
from memem.core.memory import Memory
from memem.errors import BrokenFile
from memem.service import workers
from memem.service.linking import Progress
from memem.service.recall import PLAYBOOK_HASHES
from memem.service.store import Store
from memem.storage import index, syncstate
from memem.storage.syncstate import ChannelConfig, FileEntry
from memem.storage.vault import FileStat, Vault

PAUSE_EVERY = 256
# Files read per chunk, and how many make forking readers worth it (as a rebuild does).
CHUNK = 500
PARALLEL_FILES = 2_000
# Reading this many files looks up the index's memories first (see `_read_chunk`).
VETTED_AT = 200


@dataclass(slots=True)
class Local:
    """One vault memory as sync sees it. `stale`: its file changed since it was last read
    (status only; a run always reads it)."""

    file: str
    id: str
    project: str
    private: bool
    blob: str
    problem: str
    stale: bool = False


def scan_text(text: str) -> str:
    """Why `text` may not leave this machine ("" when it may): a secret, a refused text."""
    # Imported here: compiling the scanner's patterns is most of `sync status`, which reads
    # no file that has not changed.
    from memem.core import security

    scanned = security.scan(text)
    if scanned.redactions:
        kinds = sorted({f.kind for f in scanned.redactions})
        return f"holds a secret ({', '.join(kinds)}); remove it to share this memory"
    if scanned.refused:
        return f"refused by the security scan: {scanned.reason()}"
    return ""


def eligible(local: Local, config: ChannelConfig) -> bool:
    """Whether `local` may go out on `config` (and be overwritten by what comes in)."""
    return (
        not local.private
        and not local.problem
        and bool(local.blob)
        and (config.project is None or local.project == config.project)
    )


def playbooks(vault: Vault, state_dir: Path, config: ChannelConfig) -> dict[str, bytes]:
    """memem's own playbooks (unedited since memem wrote them) of `config`'s projects."""
    import json

    try:
        recorded = json.loads((state_dir / PLAYBOOK_HASHES).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(recorded, dict):
        return {}
    found: dict[str, bytes] = {}
    for project, digest in recorded.items():
        if config.project is not None and project != config.project:
            continue
        try:
            data = (vault.playbooks_dir / f"{project}.md").read_bytes()
        except (OSError, ValueError):
            continue
        if hashlib.sha256(data).hexdigest() == digest:
            found[project] = data
    return found


class Snapshot:
    """The vault's memories by id (`take`), with the remote forms read during the take."""

    def __init__(self, vault: Vault, state_dir: Path) -> None:
        self.vault = vault
        self.state_dir = state_dir
        self.entries: dict[str, FileEntry] = {}
        self.by_id: dict[str, Local] = {}
        self._data: dict[str, bytes] = {}
        self._memories: dict[str, Memory] = {}

    @classmethod
    def take(
        cls,
        store: Store,
        pause: Callable[[], None] | None,
        progress: Progress | None,
        *,
        read: bool = True,
    ) -> Snapshot:
        """Look at every memory file; read the ones changed since the last look (with
        `read` False, count them as stale instead: `Sync.status`)."""
        state_dir = store.settings.state_dir
        cache = syncstate.load_files(state_dir)
        snap = cls(store.vault, state_dir)
        stats = sorted(store.vault.scan(), key=lambda st: st.name)
        stale = []
        for st in stats:
            entry = cache.get(st.name)
            if entry is None or entry[0] != st.mtime_ns or entry[1] != st.size:
                stale.append((st.name, st.mtime_ns, st.size))
            else:
                snap.entries[st.name] = entry
        if read:
            vetted: dict[str, Memory] = {}
            if len(stale) >= VETTED_AT:
                conn = store.index.connection()
                vetted = {r.memory.id: r.memory for r in index.all_memories(conn)}
            snap._read_all(stale, vetted, pause, progress)
        # Compared by the index's name for a project (an old folder name is an alias).
        names: dict[str, str] = {}
        for st in stats:
            entry = snap.entries.get(st.name)
            if entry is None:  # not read (status): it changed since the last sync
                snap.by_id[f"?{st.name}"] = Local(st.name, "", "", False, "", "", True)
                continue
            _, _, memory_id, project, private, blob, problem = entry
            if memory_id and memory_id not in snap.by_id:
                if project not in names:
                    names[project] = store.canonical(project)
                shown = names[project]
                snap.by_id[memory_id] = Local(st.name, memory_id, shown, private, blob, problem)
        if read and (stale or len(snap.entries) != len(cache)):
            snap.save()
        return snap

    def _read_all(
        self,
        stale: list[tuple[str, int, int]],
        vetted: dict[str, Memory],
        pause: Callable[[], None] | None,
        progress: Progress | None,
    ) -> None:
        """Read the `stale` files (name, mtime_ns, size): in chunks over forked workers when
        there are many (a first sync), in this process otherwise (pausing as asked).
        `vetted`: the index's memories (see `_read_chunk`)."""
        chunks = [stale[i : i + CHUNK] for i in range(0, len(stale), CHUNK)]
        forks = workers.count(len(stale), PARALLEL_FILES)
        done = 0
        root = str(self.vault.root)
        for chunk, read in zip(
            chunks, workers.fan_out(_read_chunk, (root, vetted, pause), chunks, forks), strict=True
        ):
            for (name, _, _), (entry, data) in zip(chunk, read, strict=True):
                self.entries[name] = entry
                if data is not None and entry[2] not in self._data:
                    self._data[entry[2]] = data
            done += len(chunk)
            if progress:
                progress("reading", done, len(stale))

    def save(self) -> None:
        syncstate.save_files(self.state_dir, self.entries)

    def record(self, stat: FileStat, memory: Memory, blob: str) -> None:
        """Remember a file sync just wrote from a remote blob (so that it is not read again).
        It is not scanned for secrets: what it holds is in that remote already."""
        self.entries[stat.name] = [
            stat.mtime_ns,
            stat.size,
            memory.id,
            memory.project,
            memory.private,
            blob,
            "",
        ]

    def memory(self, memory_id: str) -> Memory:
        if memory_id not in self._memories:
            self._memories[memory_id] = self.vault.read(self.by_id[memory_id].file).memory
        return self._memories[memory_id]

    def data(self, memory_id: str) -> bytes:
        """The remote form of `memory_id`'s file (read again when the take did not)."""
        if memory_id not in self._data:
            self._data[memory_id] = merge.remote_form(self.memory(memory_id))
        return self._data[memory_id]

    def forget(self, memory_id: str) -> None:
        self.by_id.pop(memory_id, None)
        self._data.pop(memory_id, None)
        self._memories.pop(memory_id, None)

    def held(self, config: ChannelConfig) -> list[tuple[str, str, str]]:
        """(id, file, reason) of the memories of `config` the scan holds back."""
        return [
            (m.id, m.file, m.problem)
            for m in self.by_id.values()
            if m.problem
            and m.problem != "broken"
            and not m.private
            and (config.project is None or m.project == config.project)
        ]


def _read_chunk(
    shared: tuple[str, dict[str, Memory], Callable[[], None] | None],
    chunk: list[tuple[str, int, int]],
) -> list[tuple[FileEntry, bytes | None]]:
    """Each file of `chunk` as a cache entry, with its remote form (None: a broken file).

    A memory the index holds exactly as the file says (`vetted`) passed the vet of its
    title, content, project, tags, situations and unknown keys without a redaction
    (`memem.storage.vault.vet`): only its other free-text fields are scanned again. The
    scan of a whole file costs ten times its reading, and a first sync reads them all."""
    root, vetted, pause = shared
    vault = Vault(Path(root))
    found: list[tuple[FileEntry, bytes | None]] = []
    for n, (name, mtime_ns, size) in enumerate(chunk):
        if pause and n % PAUSE_EVERY == 0:
            pause()
        try:
            memory = vault.read(name).memory
        except BrokenFile:
            found.append(([mtime_ns, size, "", "", False, "", "broken"], None))
            continue
        data = merge.remote_form(memory)
        if vetted.get(memory.id) == memory:
            problem = scan_text("\n".join(filter(None, (memory.source_session, memory.branch))))
        else:
            problem = scan_text(data.decode("utf-8"))
        entry = [
            mtime_ns,
            size,
            memory.id,
            memory.project,
            memory.private,
            merge.blob_sha(data),
            problem,
        ]
        found.append((entry, data))
    return found
