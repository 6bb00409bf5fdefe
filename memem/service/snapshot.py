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

from memem.core import merge, security
from memem.core.memory import Memory
from memem.errors import BrokenFile
from memem.service.linking import Progress
from memem.service.recall import PLAYBOOK_HASHES
from memem.service.store import Store
from memem.storage import syncstate
from memem.storage.syncstate import ChannelConfig, FileEntry
from memem.storage.vault import Vault

PAUSE_EVERY = 256
PROGRESS_EVERY = 500


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


def is_private(memory: Memory) -> bool:
    value = getattr(memory, "private", None)
    if value is None:
        value = memory.extra.get("private")
    return value is True


def scan_text(text: str) -> str:
    """Why `text` may not leave this machine ("" when it may): a secret, a refused text."""
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

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
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
        fresh: dict[str, FileEntry] = {}
        snap = cls(store.vault)
        stats = sorted(store.vault.scan(), key=lambda st: st.name)
        misses = 0
        for n, st in enumerate(stats):
            if pause and n % PAUSE_EVERY == 0:
                pause()
            entry = cache.get(st.name)
            if entry is None or entry[0] != st.mtime_ns or entry[1] != st.size:
                if not read:
                    snap.by_id[f"?{st.name}"] = Local(st.name, "", "", False, "", "", True)
                    continue
                entry = snap._read(st.name, st.mtime_ns, st.size)
                misses += 1
                if progress and misses % PROGRESS_EVERY == 0:
                    progress("reading", n, len(stats))
            fresh[st.name] = entry
            _, _, memory_id, project, private, blob, problem = entry
            if memory_id and memory_id not in snap.by_id:
                snap.by_id[memory_id] = Local(st.name, memory_id, project, private, blob, problem)
        if read and (misses or len(fresh) != len(cache)):
            syncstate.save_files(state_dir, fresh)
        return snap

    def _read(self, name: str, mtime_ns: int, size: int) -> FileEntry:
        try:
            memory = self.vault.read(name).memory
        except BrokenFile:
            return [mtime_ns, size, "", "", False, "", "broken"]
        data = merge.remote_form(memory)
        if memory.id not in self._data:
            self._data[memory.id] = data
            self._memories[memory.id] = memory
        problem = scan_text(data.decode("utf-8"))
        blob = merge.blob_sha(data)
        return [mtime_ns, size, memory.id, memory.project, is_private(memory), blob, problem]

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
