"""Turning documents into memory drafts (memem.core.importing), and what an import makes of
real files: markdown with and without frontmatter, plain text, odd encodings."""

from __future__ import annotations

from pathlib import Path

import pytest

from memem.core.importing import (
    MAX_DRAFT_CHARS,
    Draft,
    drafts_for,
    split_markdown,
    split_text,
)
from memem.service.store import Store

# -- markdown sections -------------------------------------------------------------------------


def test_each_section_with_a_body_is_one_draft_titled_by_its_heading_path() -> None:
    text = (
        "# Shop\n"
        "An online book store.\n"
        "## Deploys\n"
        "Fly.io from main.\n"
        "### Rollback\n"
        "fly releases rollback.\n"
        "## Tests\n"
        "pytest -n 2.\n"
    )
    assert split_markdown(text, doc_title="CLAUDE") == [
        Draft("An online book store.", "Shop"),
        Draft("Fly.io from main.", "Shop / Deploys"),
        Draft("fly releases rollback.", "Shop / Deploys / Rollback"),
        Draft("pytest -n 2.", "Shop / Tests"),
    ]


def test_text_before_the_first_heading_is_titled_by_the_document() -> None:
    drafts = split_markdown("Preamble line.\n\n# Section\nBody.", doc_title="notes")
    assert drafts == [Draft("Preamble line.", "notes"), Draft("Body.", "Section")]


def test_a_heading_without_a_body_yields_nothing_but_stays_in_the_path() -> None:
    drafts = split_markdown("# A\n## B\n\n## C\ntext", doc_title="d")
    assert drafts == [Draft("text", "A / C")]


def test_a_shallower_heading_closes_the_deeper_ones() -> None:
    drafts = split_markdown("# A\n### Deep\nx\n## B\ny\n# C\nz", doc_title="d")
    assert [d.title for d in drafts] == ["A / Deep", "A / B", "C"]


def test_headings_inside_a_code_fence_are_code() -> None:
    text = "# Setup\n```sh\n# not a heading\nmake\n```\n~~~\n## neither\n~~~\nafter"
    (draft,) = split_markdown(text, doc_title="d")
    assert draft.title == "Setup"
    assert "# not a heading" in draft.content and "## neither" in draft.content


@pytest.mark.parametrize(
    ("line", "title"),
    [
        ("# Plain", "Plain"),
        ("#### Level four", "Level four"),
        ("## Closed ##", "Closed"),
        ("#   Spaced   ", "Spaced"),
        ("# Café ☕", "Café ☕"),
    ],
)
def test_heading_text_is_read_without_its_markers(line: str, title: str) -> None:
    (draft,) = split_markdown(f"{line}\nbody", doc_title="d")
    assert draft.title == title


@pytest.mark.parametrize(
    "line",
    [
        "##### Level five is body text",
        "#hashtag without a space",
        "    # indented code",
    ],
)
def test_what_is_not_a_level_1_to_4_heading_stays_in_the_body(line: str) -> None:
    (draft,) = split_markdown(f"# Top\n{line}", doc_title="d")
    assert draft.title == "Top"
    assert line.strip() in draft.content


def test_markdown_line_ends_are_normalised() -> None:
    drafts = split_markdown("# A\r\nline one  \r\nline two\r\n", doc_title="d")
    assert drafts == [Draft("line one\nline two", "A")]


def test_an_empty_or_blank_document_yields_no_drafts() -> None:
    assert split_markdown("", doc_title="d") == []
    assert split_markdown("\n\n  \n# Only a heading\n", doc_title="d") == []
    assert split_text("   \n\t\n", doc_title="d") == []


# -- plain text and long documents -------------------------------------------------------------


def test_short_text_is_one_draft_titled_by_the_document() -> None:
    assert split_text("\nPostgres 16 behind pgbouncer.  \n\n", doc_title="db") == [
        Draft("Postgres 16 behind pgbouncer.", "db")
    ]


def test_text_keeps_its_markdown_like_lines() -> None:
    (draft,) = split_text("# not split\nbody", doc_title="t")
    assert draft == Draft("# not split\nbody", "t")


def test_long_text_is_split_at_paragraphs_and_numbered() -> None:
    paragraph = "word " * 300  # ~1,500 characters
    text = "\n\n".join(f"{n} {paragraph}".strip() for n in range(6))
    drafts = split_text(text, doc_title="long")
    assert len(drafts) > 1
    assert [d.title for d in drafts] == [
        f"long ({n}/{len(drafts)})" for n in range(1, len(drafts) + 1)
    ]
    assert all(len(d.content) <= MAX_DRAFT_CHARS for d in drafts)
    # Nothing is lost and no paragraph is cut.
    joined = "\n\n".join(d.content for d in drafts)
    assert joined == text
    assert all(d.content.split("\n\n")[0][0].isdigit() for d in drafts)


def test_a_paragraph_longer_than_a_draft_is_cut_into_pieces() -> None:
    text = "x" * (MAX_DRAFT_CHARS * 2 + 10)
    drafts = split_text(text, doc_title="blob")
    assert [len(d.content) for d in drafts] == [MAX_DRAFT_CHARS, MAX_DRAFT_CHARS, 10]
    assert "".join(d.content for d in drafts) == text


def test_a_long_markdown_section_is_split_under_its_heading() -> None:
    body = "\n\n".join("para " * 200 for _ in range(8))
    drafts = split_markdown(f"# Big\n{body}", doc_title="d")
    assert len(drafts) > 1
    assert all(d.title.startswith("Big (") for d in drafts)


def test_text_at_the_draft_limit_is_one_draft() -> None:
    text = "y" * MAX_DRAFT_CHARS
    assert split_text(text, doc_title="t") == [Draft(text, "t")]


# -- which splitter ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "titles"),
    [
        ("CLAUDE.md", ["A", "B"]),
        ("docs/notes.MD", ["A", "B"]),
        ("guide.markdown", ["A", "B"]),
        ("notes.txt", ["notes"]),
        ("README", ["README"]),
    ],
)
def test_markdown_files_split_by_section_and_others_stay_whole(
    name: str, titles: list[str]
) -> None:
    assert [d.title for d in drafts_for(name, "# A\nx\n# B\ny")] == titles


def test_the_document_title_is_the_file_stem() -> None:
    assert drafts_for("a/b/deploy.notes.txt", "text") == [Draft("text", "deploy.notes")]
    assert drafts_for("plain.md", "no headings") == [Draft("no headings", "plain")]


# -- real files through the store ---------------------------------------------------------------


def imported(store: Store, path: Path) -> list[str]:
    """The titles of what importing `path` created, in order."""
    report = store.import_path(path)
    assert report.errors == ()
    return [store.get(i).title for i in report.created]


def test_a_markdown_file_without_frontmatter_is_split_by_section(
    store: Store, tmp_path: Path
) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text("# Deploys\nFly.io deploys from main.\n# Tests\nRun pytest -n 2.\n")
    assert imported(store, doc) == ["Deploys", "Tests"]


def test_frontmatter_tags_apply_to_every_section(store: Store, tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text("---\ntags: [ops, Shop]\n---\n# Deploys\nFly.io from main.\n# Cache\nRedis.\n")
    report = store.import_path(doc)
    assert [store.get(i).tags for i in report.created] == [("ops", "shop"), ("ops", "shop")]


def test_a_memem_memory_file_is_imported_whole_with_its_fields(
    store: Store, tmp_path: Path
) -> None:
    doc = tmp_path / "memory.md"
    doc.write_text(
        "---\nid: my-note\ntitle: Ports\nlayer: 1\nimportance: 5\nproject: shop\n---\n"
        "# Not a section\nThe API listens on 8080.\n"
    )
    report = store.import_path(doc)
    (memory,) = [store.get(i) for i in report.created]
    assert (memory.title, memory.layer, memory.importance, memory.project) == (
        "Ports",
        1,
        5,
        "shop",
    )
    assert memory.source_type == "import"
    assert "# Not a section" in memory.content


def test_a_claude_md_names_its_project_after_its_folder(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "bookshop"
    folder.mkdir()
    (folder / "CLAUDE.md").write_text("# Stack\nDjango and Postgres.\n")
    (created,) = store.import_path(folder / "CLAUDE.md").created
    assert store.get(created).project == "bookshop"


def test_a_text_file_is_one_memory(store: Store, tmp_path: Path) -> None:
    doc = tmp_path / "db.txt"
    doc.write_text("# kept as text\nPostgres 16 behind pgbouncer.\n")
    assert imported(store, doc) == ["db"]


@pytest.mark.parametrize(
    "data",
    [
        "\ufeff# Deploys\nFly.io deploys from main.\n".encode(),
        b"# Deploys\r\nFly.io deploys from main.\r\n",
        "# Déploiements\nFly.io déploie depuis main.\n".encode(),
    ],
    ids=["bom", "crlf", "accents"],
)
def test_utf8_variants_import(store: Store, tmp_path: Path, data: bytes) -> None:
    doc = tmp_path / "guide.md"
    doc.write_bytes(data)
    report = store.import_path(doc)
    (created,) = report.created
    assert "Fly.io" in store.get(created).content


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("Café crème au lait.\n".encode("latin-1"), "invalid UTF-8 at byte 3"),
        ("UTF-16 notes\n".encode("utf-16"), "binary file"),
        (b"ELF\x00\x01\x02", "binary file"),
    ],
    ids=["latin-1", "utf-16", "binary"],
)
def test_a_file_that_is_not_utf8_text_is_reported_not_imported(
    store: Store, tmp_path: Path, data: bytes, reason: str
) -> None:
    doc = tmp_path / "odd.md"
    doc.write_bytes(data)
    report = store.import_path(doc)
    assert report.created == ()
    assert [(Path(p).name, why) for p, why in report.errors] == [("odd.md", reason)]


def test_an_unclosed_frontmatter_is_reported(store: Store, tmp_path: Path) -> None:
    doc = tmp_path / "broken.md"
    doc.write_text("---\ntitle: never closed\n\nbody\n")
    report = store.import_path(doc)
    assert report.created == ()
    ((_, why),) = report.errors
    assert "never closed" in why
