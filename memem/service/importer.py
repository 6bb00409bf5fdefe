"""Import: markdown and text documents into memories, each saved through the one save path.

A memem memory file keeps its fields; a CLAUDE.md gives one memory per section (its folder
names the project); any other document is split by `memem.core.importing`. A memory the
security scan refuses is written into the vault quarantined instead of refused (the document
is the user's, not a model's). The files are found and read by `memem.storage.documents`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memem.core import plan
from memem.errors import BrokenFile, InvalidInput
from memem.service.saving import Saved, Saver, new_id
from memem.storage import documents, events
from memem.storage.documents import Document


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()
    quarantined: tuple[tuple[str, str], ...] = ()  # (memory id, reason): written, not indexed


def import_path(saver: Saver, path: str | Path, project: str | None = None) -> ImportReport:
    """`Store.import_path`: a file, a directory of them, or a CLAUDE.md. Unreadable files (a
    symlink loop, a name that is not UTF-8, a link out of the folder) are reported, not fatal."""
    root = Path(path).expanduser()
    if not root.exists():
        raise InvalidInput(f"no such file or directory: {documents.printable(root)}")
    created: list[str] = []
    duplicates: list[str] = []
    errors: list[tuple[str, str]] = []
    held: list[tuple[str, str]] = []
    with documents.opened_root(root) as (root_fd, real_root, single):
        if single:
            found: Iterable[Document] = [
                Document(documents.printable(real_root / single[0]), single)
            ]
        else:
            found = documents.documents(root, root_fd, real_root)
        for document in found:
            if document.skipped is not None:
                errors.append((str(document.shown), document.skipped))
                continue
            try:
                data = documents.read_document(root_fd, document.parts)
                for saved in _import_file(saver, document.shown, data, project):
                    if saved.outcome == plan.QUARANTINED:
                        held.append((saved.memory.id, saved.reasons[0]))
                        continue
                    outcome = created if saved.outcome == plan.CREATED else duplicates
                    outcome.append(saved.memory.id)
            except (InvalidInput, BrokenFile) as exc:
                errors.append((str(document.shown), str(exc)))
    events.append(
        saver.settings.events_path,
        "import",
        source=str(documents.printable(root)),
        created=len(created),
    )
    return ImportReport(tuple(created), tuple(duplicates), tuple(errors), tuple(held))


def _import_one(saver: Saver, content: str, **fields: Any) -> Saved:
    return saver.add(content, source_type="import", quarantine=True, **fields)


def _import_file(saver: Saver, file: Path, data: bytes, project: str | None) -> Iterator[Saved]:
    """The memories in one document's bytes; `file` (valid text) names it."""
    from memem.core import importing, markdown

    if b"\x00" in data:
        raise InvalidInput("binary file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"invalid UTF-8 at byte {exc.start}") from None
    meta, body = markdown.split(text)
    if meta.get("id") or (meta.get("title") and meta.get("layer") is not None):
        m = markdown.parse(
            text, fallback_id=new_id(), fallback_time=saver.clock(), fallback_title=file.stem
        )
        yield _import_one(
            saver,
            m.content,
            title=m.title,
            project=project or m.project,
            tags=m.tags,
            situations=m.situations,
            layer=m.layer,
            importance=m.importance,
            created=m.created,
        )
        return
    default_project = project or (file.parent.name if file.name.upper() == "CLAUDE.MD" else None)
    for draft in importing.drafts_for(file.name, body):
        yield _import_one(
            saver,
            draft.content,
            title=draft.title,
            project=default_project,
            tags=[str(t) for t in meta.get("tags") or []]
            if isinstance(meta.get("tags"), list)
            else (),
        )
