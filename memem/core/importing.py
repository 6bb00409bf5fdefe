"""Turning documents into memory drafts: markdown and text files, CLAUDE.md. Pure.

A CLAUDE.md (or any markdown with sections) becomes one memory per section, titled by its
heading path. Short plain text is one memory; long text is split at paragraph boundaries.
(A memem memory file, frontmatter with an `id`, is not split: the store imports it whole.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from memem.core.memory import normalize_content

MAX_DRAFT_CHARS: Final = 4_000
_HEADING: Final = re.compile(r"^(#{1,4})\s+(.+?)\s*#*\s*$")
_FENCE: Final = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True, slots=True)
class Draft:
    """Something to save: content and a title."""

    content: str
    title: str


def split_markdown(text: str, *, doc_title: str) -> list[Draft]:
    """One draft per section that has body text; the title is the heading path."""
    drafts: list[Draft] = []
    path: list[tuple[int, str]] = []
    body: list[str] = []
    in_fence = False

    def flush() -> None:
        content = normalize_content("\n".join(body))
        if content:
            title = " / ".join(h for _, h in path) or doc_title
            drafts.extend(_chunks(content, title))
        body.clear()

    for line in normalize_content(text).split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            flush()
            level = len(heading.group(1))
            path[:] = [(lvl, h) for lvl, h in path if lvl < level] + [(level, heading.group(2))]
            continue
        body.append(line)
    flush()
    return drafts


def split_text(text: str, *, doc_title: str) -> list[Draft]:
    content = normalize_content(text)
    return _chunks(content, doc_title) if content else []


def _chunks(content: str, title: str) -> list[Draft]:
    if len(content) <= MAX_DRAFT_CHARS:
        return [Draft(content=content, title=title)]
    parts: list[str] = []
    current = ""
    for paragraph in re.split(r"\n{2,}", content):
        while len(paragraph) > MAX_DRAFT_CHARS:
            parts.append(paragraph[:MAX_DRAFT_CHARS])
            paragraph = paragraph[MAX_DRAFT_CHARS:]
        if current and len(current) + len(paragraph) + 2 > MAX_DRAFT_CHARS:
            parts.append(current)
            current = ""
        current = f"{current}\n\n{paragraph}" if current else paragraph
    if current:
        parts.append(current)
    return [
        Draft(content=p, title=f"{title} ({n}/{len(parts)})" if len(parts) > 1 else title)
        for n, p in enumerate(parts, 1)
    ]


def drafts_for(name: str, text: str) -> list[Draft]:
    """Drafts for one document (frontmatter, if any, already removed from `text`)."""
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if name.lower().endswith((".md", ".markdown")):
        return split_markdown(text, doc_title=stem)
    return split_text(text, doc_title=stem)
