"""Words and truncation: which words of a prompt are searched for, how a term is quoted for
FTS5, and `clip`, the one truncation in memem."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memem.core.text import (
    ELLIPSIS,
    MAX_QUERY_TERMS,
    STOPWORDS,
    clip,
    fold,
    query_terms,
    quote_fts,
    words,
)

# -- fold and words ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Deploy", "deploy"),
        ("ÉCOLE Café naïve", "ecole cafe naive"),
        ("Ångström", "angstrom"),
        ("ﬁle", "file"),  # a ligature is split into its letters
        ("", ""),
        ("ascii only 123", "ascii only 123"),
    ],
)
def test_fold_lowercases_and_drops_diacritics(text: str, folded: str) -> None:
    assert fold(text) == folded


@given(st.text(max_size=200))
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Use pnpm, never npm!", ["use", "pnpm", "never", "npm"]),
        ("Don't rewrite the lockfile", ["don't", "rewrite", "the", "lockfile"]),
        ("Don\u2019t", ["don't"]),  # a typographic apostrophe reads as the ASCII one
        ("rock 'n' roll", ["rock", "n", "roll"]),  # quotes around a word are not part of it
        ("snake_case and kebab-case", ["snake", "case", "and", "kebab", "case"]),
        ("v3.14 on port 8080", ["v3", "14", "on", "port", "8080"]),
        ("Café ÉCOLE", ["cafe", "ecole"]),
        ("日本語 中文", ["日本語", "中文"]),
        ("emoji 🎉 between", ["emoji", "between"]),
        ("", []),
        ("  ...  !!! ", []),
    ],
)
def test_words_are_folded_in_order(text: str, expected: list[str]) -> None:
    assert words(text) == expected


@given(st.text(max_size=300))
def test_words_hold_no_separator_or_underscore(text: str) -> None:
    for word in words(text):
        assert word
        assert word == word.strip()
        assert "_" not in word
        assert not word.startswith("'") and not word.endswith("'")
        assert "\u2019" not in word


# -- query_terms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "terms"),
    [
        (
            "What did we decide about the DB's migration?",
            ["decide", "db", "migration"],
        ),
        ("How do I deploy the shop?", ["deploy", "shop"]),
        ("Can you remember what I told you about pnpm?", ["told", "pnpm"]),
        ("Thanks! ok, sure, yes please", []),
        ("the and of to", []),
        ("Why doesn\u2019t Redis start?", ["redis", "start"]),
        ("port 8 or 8080", ["port", "8", "8080"]),  # a lone digit is a term, a lone letter not
        ("x y z", []),
        ("deploy Deploy DÉPLOY deploy", ["deploy"]),
        ("Déjà vu", ["deja", "vu"]),
        ("日本語 のテスト", ["日本語", "のテスト"]),
        ("kubectl's config", ["kubectl", "config"]),
    ],
)
def test_query_terms_keep_the_words_worth_searching_for(prompt: str, terms: list[str]) -> None:
    assert query_terms(prompt) == terms


def test_query_terms_stop_at_the_limit_in_order_of_appearance() -> None:
    prompt = " ".join(f"term{n}" for n in range(100))
    assert query_terms(prompt) == [f"term{n}" for n in range(MAX_QUERY_TERMS)]
    assert query_terms(prompt, limit=3) == ["term0", "term1", "term2"]


def test_duplicates_do_not_use_up_the_limit() -> None:
    assert query_terms("alpha alpha alpha beta gamma", limit=2) == ["alpha", "beta"]


def test_every_stopword_alone_gives_no_terms() -> None:
    for word in STOPWORDS:
        assert query_terms(word) == [], word


def test_stopwords_are_folded_forms() -> None:
    """The stopwords are compared with folded words: each must be in folded form itself,
    or it could never match."""
    for word in STOPWORDS:
        assert fold(word) == word
        assert words(word) == [word], word


@settings(max_examples=200)
@given(text=st.text(max_size=400), limit=st.integers(min_value=1, max_value=30))
def test_query_terms_are_distinct_non_stopwords_within_the_limit(text: str, limit: int) -> None:
    terms = query_terms(text, limit=limit)
    assert len(terms) <= limit
    assert len(set(terms)) == len(terms)
    assert not set(terms) & STOPWORDS
    assert all(len(t) >= 2 or t.isdigit() for t in terms)
    assert all(t.split("'")[0] in "".join(words(text)) for t in terms)


# -- quote_fts ---------------------------------------------------------------------------------


@pytest.fixture
def fts() -> Iterator[sqlite3.Connection]:
    """An FTS5 table with the index's tokenizer."""
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE notes USING fts5(body, "
        "tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    conn.executemany(
        "INSERT INTO notes(body) VALUES (?)",
        [
            ("the shop uses pnpm and never npm",),
            ('he said "deploy on friday" and left',),
            ("NEAR the AND gate OR the NOT gate",),
            ("café au lait",),
        ],
    )
    yield conn
    conn.close()


def match(conn: sqlite3.Connection, term: str) -> list[str]:
    rows = conn.execute("SELECT body FROM notes WHERE notes MATCH ?", (quote_fts(term),))
    return [r[0] for r in rows]


@pytest.mark.parametrize(
    ("term", "quoted"),
    [
        ("pnpm", '"pnpm"'),
        ('say "hi"', '"say ""hi"""'),
        ('"', '""""'),
        ("a OR b", '"a OR b"'),
        ("", '""'),
    ],
)
def test_quote_fts_makes_a_string_literal(term: str, quoted: str) -> None:
    assert quote_fts(term) == quoted


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("pnpm", ["the shop uses pnpm and never npm"]),
        ("uses", ["the shop uses pnpm and never npm"]),
        (
            "AND",
            [
                "the shop uses pnpm and never npm",
                'he said "deploy on friday" and left',
                "NEAR the AND gate OR the NOT gate",
            ],
        ),
        ("NOT", ["NEAR the AND gate OR the NOT gate"]),
        ("NEAR", ["NEAR the AND gate OR the NOT gate"]),
        ('"deploy', ['he said "deploy on friday" and left']),
        ("deploy on friday", ['he said "deploy on friday" and left']),
        ("cafe", ["café au lait"]),
        ("body:pnpm", []),  # a column filter is a phrase here, not a filter
        ("pnpm*", ["the shop uses pnpm and never npm"]),
        ("(pnpm)", ["the shop uses pnpm and never npm"]),
        ("-npm", ["the shop uses pnpm and never npm"]),
    ],
)
def test_a_quoted_term_is_searched_as_a_phrase_whatever_it_holds(
    fts: sqlite3.Connection, term: str, found: list[str]
) -> None:
    """FTS5 operators (AND, OR, NOT, NEAR, *, :, parentheses, quotes) in a user's words
    are searched as words, never parsed as query syntax."""
    assert sorted(match(fts, term)) == sorted(found)


@settings(max_examples=300)
@given(term=st.text(alphabet=st.characters(exclude_characters="\x00"), max_size=60))
def test_any_quoted_term_is_a_valid_match_expression(term: str) -> None:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
        conn.execute("INSERT INTO t(body) VALUES ('some body text')")
        conn.execute("SELECT count(*) FROM t WHERE t MATCH ?", (quote_fts(term),)).fetchone()
    except sqlite3.OperationalError as exc:  # pragma: no cover - the failure shown
        pytest.fail(f"{term!r} -> {quote_fts(term)!r}: {exc}")
    finally:
        conn.close()


def test_a_term_holding_a_nul_is_a_valid_match_expression(fts: sqlite3.Connection) -> None:
    assert match(fts, "pnpm\x00") == match(fts, "pnpm") != []


# -- clip --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "clipped"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("alpha beta gamma delta", 15, "alpha beta…"),  # back to the last word boundary
        ("alpha beta gamma", 11, "alpha beta…"),  # the cut falls on a space: the word is whole
        ("hello, world and more", 8, "hello…"),  # the dangling comma goes too
        ("abcdefghijklmnop", 6, "abcde…"),  # one long word: cut inside it
        ("hello world foo bar", 11, "hello worl…"),  # no boundary in the last third: cut
        ("a; b: c - d, e", 5, "a; b…"),
        ("a\n\nb   c\td", 20, "a b c d"),  # one line: every whitespace run is one space
        ("  padded  ", 20, "padded"),
    ],
)
def test_clip_cuts_at_a_word_boundary_and_marks_the_cut(
    text: str, limit: int, clipped: str
) -> None:
    assert clip(text, limit) == clipped
    assert len(clipped) <= limit


@pytest.mark.parametrize(
    ("text", "limit", "clipped"),
    [
        ("x", 0, ""),
        ("xy", 0, ""),
        ("xy", 1, "…"),
        ("xyz", 2, "x…"),
        ("xy", 2, "xy"),
        ("", 0, ""),
        ("", 5, ""),
        ("   ", 1, ""),
    ],
)
def test_clip_with_a_tiny_limit(text: str, limit: int, clipped: str) -> None:
    assert clip(text, limit) == clipped


def test_clip_can_keep_the_lines() -> None:
    text = "line one\n\n  indented line two\n"
    assert clip(text, 100, one_line=False) == "line one\n\n  indented line two"
    assert clip("line one\nline two is long", 15, one_line=False) == "line one\nline…"
    assert "\n" not in clip(text, 100)


@pytest.mark.parametrize(
    ("text", "limit", "clipped"),
    [
        ("Traceback: lots of frames then ValueError: bad port", 22, "…ValueError: bad port"),
        ("first line\nsecond line\nlast error here", 16, "…error here"),
        ("abcdefghijklmnop", 6, "…lmnop"),  # no boundary near the start of the tail
        ("short", 10, "short"),
    ],
)
def test_clip_tail_keeps_the_end(text: str, limit: int, clipped: str) -> None:
    """An error's last line says what went wrong: `tail` keeps it."""
    assert clip(text, limit, tail=True) == clipped
    assert len(clipped) <= limit


def test_clip_tail_keeps_the_last_lines_when_not_folding() -> None:
    log = "\n".join(f"frame {n}" for n in range(20)) + "\nOSError: disk full"
    kept = clip(log, 30, one_line=False, tail=True)
    assert kept.startswith(ELLIPSIS)
    assert kept.endswith("\nOSError: disk full")
    assert len(kept) <= 30


texts = st.text(alphabet=st.sampled_from("ab cd,;:-\n\téü日"), max_size=120) | st.text(max_size=120)


@settings(max_examples=500)
@given(
    text=texts,
    limit=st.integers(min_value=-2, max_value=130),
    one_line=st.booleans(),
    tail=st.booleans(),
)
def test_clip_never_returns_more_than_limit_characters(
    text: str, limit: int, one_line: bool, tail: bool
) -> None:
    assert len(clip(text, limit, one_line=one_line, tail=tail)) <= max(limit, 0)


@settings(max_examples=300)
@given(text=texts, limit=st.integers(min_value=2, max_value=130), tail=st.booleans())
def test_clip_keeps_a_piece_of_the_text_and_marks_any_cut(
    text: str, limit: int, tail: bool
) -> None:
    folded = " ".join(text.split())
    clipped = clip(text, limit, tail=tail)
    if len(folded) <= limit:
        assert clipped == folded
    elif tail:
        assert clipped.startswith(ELLIPSIS)
        assert folded.endswith(clipped[1:])
    else:
        assert clipped.endswith(ELLIPSIS)
        assert folded.startswith(clipped[:-1])


@settings(max_examples=300)
@given(text=texts, limit=st.integers(min_value=0, max_value=130), one_line=st.booleans())
def test_clipping_twice_changes_nothing(text: str, limit: int, one_line: bool) -> None:
    once = clip(text, limit, one_line=one_line)
    assert clip(once, limit, one_line=one_line) == once


@settings(max_examples=300)
@given(
    words_=st.lists(st.from_regex(r"[a-z]{1,3}", fullmatch=True), min_size=2, max_size=30),
    limit=st.integers(min_value=12, max_value=80),
)
def test_clip_of_short_words_ends_on_a_whole_word(words_: list[str], limit: int) -> None:
    """With words of at most a third of the room, a cut never splits one."""
    text = " ".join(words_)
    clipped = clip(text, limit)
    if clipped != text:
        kept = clipped.removesuffix(ELLIPSIS).split(" ")
        assert kept == words_[: len(kept)]
