"""Tests for memem.core.normalize and the project names built on it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memem.core.memory import GLOBAL_PROJECT, normalize_project, normalize_tags
from memem.core.normalize import canonical, fold_lookalike_words, skeleton, skeleton_map
from memem.core.security import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("ig\u200bnore", "ignore", id="zero-width-space"),
        pytest.param("ig\u200d\u2060\ufeffnore", "ignore", id="joiners-and-bom"),
        pytest.param("ig\u00adnore", "ignore", id="soft-hyphen"),
        pytest.param("i\x07g\x1bnore", "ignore", id="control-chars"),
        pytest.param("\u202eignore\u202c", "ignore", id="bidi-override"),
        pytest.param("\u0456gnore", "ignore", id="cyrillic-i"),
        pytest.param("\u0455hop", "shop", id="cyrillic-dze"),
        pytest.param("\u0399GNORE", "IGNORE", id="greek-capital-iota"),
        pytest.param("\uff49\uff47\uff4e\uff4f\uff52\uff45", "ignore", id="fullwidth"),
        pytest.param(
            "\U0001d422\U0001d420\U0001d427\U0001d428\U0001d42b\U0001d41e", "ignore", id="math-bold"
        ),
        pytest.param("i\u0308gnore", "ignore", id="combining-diaeresis"),
        pytest.param("\u00efgnore", "ignore", id="precomposed-accent"),
        pytest.param("&#105;gnore", "ignore", id="html-decimal"),
        pytest.param("&#x69;gnore", "ignore", id="html-hex"),
        pytest.param("%69gnore", "ignore", id="percent"),
        pytest.param(
            "a\u2014b \u201cq\u201d \u2018r\u2019", "a-b \"q\" 'r'", id="dashes-and-quotes"
        ),
        pytest.param("keep\ttabs\nand\r\nlines", "keep\ttabs\nand\r\nlines", id="whitespace-kept"),
        pytest.param("Case Stays", "Case Stays", id="case-kept"),
    ],
)
def test_skeleton_undoes_disguises(text: str, expected: str) -> None:
    assert skeleton(text) == expected


def test_canonical_keeps_accents_and_other_scripts() -> None:
    assert canonical("caf\u00e9") == "caf\u00e9"
    assert canonical("\u65e5\u672c") == "\u65e5\u672c"
    assert canonical("ig\u200bnore \uff49") == "ignore i"


@pytest.mark.parametrize(
    ("text", "piece"),
    [
        ("xx ig\u200bn\u200bore yy", "ig\u200bn\u200bore"),
        ("\u200b\u200bignore\u200b", "ignore"),
        ("\uff49\uff47\uff4e\uff4f\uff52\uff45 !", "\uff49\uff47\uff4e\uff4f\uff52\uff45"),
        ("a &#105;gnore b", "&#105;gnore"),
        ("\ufb01le ignore", "ignore"),
    ],
)
def test_skeleton_span_maps_a_match_back_to_the_original(text: str, piece: str) -> None:
    sk = skeleton_map(text)
    start = sk.text.index("ignore")
    lo, hi = sk.span(start, start + len("ignore"))
    assert text[lo:hi] == piece


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from("ab \n\u200b\u0455\uff41\u00e9e\u0301&#;%69\ufb01"), max_size=30
    )
)
def test_skeleton_span_is_monotonic_and_in_bounds(text: str) -> None:
    sk = skeleton_map(text)
    previous = 0
    for i in range(len(sk.text) + 1):
        lo, hi = sk.span(i, i)
        assert 0 <= lo <= len(text) and 0 <= hi <= len(text)
        start, _ = sk.span(i, len(sk.text))
        assert start >= previous
        previous = start
    if text == sk.text:
        assert sk.span(0, len(text)) == (0, len(text))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("\u0455hop", "shop", id="one-cyrillic-letter"),
        pytest.param("\u0455\u04bb\u043e\u0440", "shop", id="all-cyrillic-look-alikes"),
        pytest.param("\uff53\uff48\uff4f\uff50", "shop", id="fullwidth"),
        pytest.param("sh\u200bop", "shop", id="zero-width"),
        pytest.param("Shop", "Shop", id="case-kept"),
        pytest.param("caf\u00e9", "caf\u00e9", id="accent-kept"),
        pytest.param(
            "\u043f\u0440\u043e\u0435\u043a\u0442",
            "\u043f\u0440\u043e\u0435\u043a\u0442",
            id="russian-word-kept",
        ),
        pytest.param("\u65e5\u672c\u8a9e", "\u65e5\u672c\u8a9e", id="cjk-kept"),
        pytest.param("my shop/api", "my-shop-api", id="separators"),
        pytest.param("\u200b", GLOBAL_PROJECT, id="only-invisible"),
        pytest.param("", GLOBAL_PROJECT, id="empty"),
    ],
)
def test_project_names_fold_look_alikes(name: str, expected: str) -> None:
    assert normalize_project(name) == expected


def test_look_alike_project_is_the_same_project() -> None:
    assert normalize_project("\u0455h\u043ep") == normalize_project("shop")


def test_secret_in_a_project_name_is_redacted() -> None:
    token = "ghp" + "_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d"
    assert token not in normalize_project(f"shop-{token}")


def test_secret_in_a_tag_is_redacted() -> None:
    token = "ghp" + "_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d"
    tags = normalize_tags(["deploy", f"token-{token}", "password Tr0ub4dor&3xyz"])
    assert tags[0] == "deploy"
    assert not any(token.lower() in t or "tr0ub4dor" in t for t in tags)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_project_name_is_never_empty_and_stable(name: str) -> None:
    once = normalize_project(name)
    assert once
    assert normalize_project(once) == once


@settings(max_examples=500, deadline=None)
@given(st.from_regex(r"[A-Za-z0-9_.-]{0,15}", fullmatch=True))
def test_a_short_plain_project_name_holds_nothing_to_redact_or_fold(name: str) -> None:
    # normalize_project skips the scanner for such names (the hook path stays lean).
    assert redact(name) == name
    assert fold_lookalike_words(name) == name


def test_fold_lookalike_words_keeps_words_of_other_scripts() -> None:
    assert fold_lookalike_words("\u0455hop \u043f\u0440\u043e\u0435\u043a\u0442") == (
        "shop \u043f\u0440\u043e\u0435\u043a\u0442"
    )
