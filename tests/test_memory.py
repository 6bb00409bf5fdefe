"""The memory value: its limits, its ids, how it normalises what it is given, and which
layers, statuses and sources it accepts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from memem.core.memory import (
    GLOBAL_PROJECT,
    LAYERS,
    MAX_CONTENT_CHARS,
    MAX_ID_CHARS,
    MAX_SITUATION_CHARS,
    MAX_SITUATIONS,
    MAX_TAG_CHARS,
    MAX_TAGS,
    MAX_TITLE_CHARS,
    SOURCE_TYPES,
    STATUSES,
    Memory,
    check_id,
    check_limits,
    embedding_text,
    format_datetime,
    is_layer,
    is_source,
    is_status,
    normalize_content,
    normalize_project,
    normalize_tags,
    normalize_title,
    slugify,
    title_from_content,
    to_datetime,
)
from memem.errors import InvalidInput, MememError, TooLarge

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def memory(**overrides: Any) -> Memory:
    fields: dict[str, Any] = {
        "id": "0123456789abcdef",
        "title": "Use pnpm",
        "content": "The repo uses pnpm; npm breaks the lockfile.",
        "created": NOON,
        "updated": NOON,
    }
    return Memory(**{**fields, **overrides})


# -- limits -----------------------------------------------------------------------------------


def test_content_at_the_limit_passes_and_one_character_more_is_refused() -> None:
    assert check_limits("title", "x" * MAX_CONTENT_CHARS, []) == ()
    with pytest.raises(TooLarge, match="100,001 characters; the limit is 100,000"):
        check_limits("title", "x" * (MAX_CONTENT_CHARS + 1), [])


def test_title_limit_counts_the_title_as_it_will_be_stored() -> None:
    assert check_limits("t" * MAX_TITLE_CHARS, "content", []) == ()
    # Runs of whitespace fold into one space before the count, as normalize_title does.
    assert check_limits("a  " * 100, "content", []) == ()
    with pytest.raises(TooLarge, match="title is 201 characters"):
        check_limits("t" * (MAX_TITLE_CHARS + 1), "content", [])


def test_no_title_is_not_checked() -> None:
    assert check_limits(None, "content", ["a"]) == ("a",)


def test_twenty_tags_pass_and_twenty_one_are_refused() -> None:
    tags = [f"tag{n}" for n in range(MAX_TAGS)]
    assert check_limits(None, "c", tags) == tuple(tags)
    with pytest.raises(TooLarge, match="21 tags; the limit is 20"):
        check_limits(None, "c", [*tags, "one-more"])


def test_a_tag_over_64_characters_is_refused_without_quoting_it() -> None:
    secret = "s" * (MAX_TAG_CHARS + 1)
    with pytest.raises(TooLarge, match="tag 2 is 65 characters") as caught:
        check_limits(None, "c", ["ok", secret])
    assert secret not in str(caught.value)


def test_a_tag_at_64_characters_passes_even_with_its_hash_and_spaces() -> None:
    tag = "#" + "t" * MAX_TAG_CHARS + "  "
    assert check_limits(None, "c", [tag]) == (tag,)


def test_tag_lengths_can_be_left_for_after_the_scrub() -> None:
    long_tag = "t" * 500
    assert check_limits(None, "c", [long_tag], tag_lengths=False) == (long_tag,)
    with pytest.raises(TooLarge):
        check_limits(None, "c", ["t"] * (MAX_TAGS + 1), tag_lengths=False)


def test_limits_are_too_large_errors_which_are_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        check_limits(None, "x" * (MAX_CONTENT_CHARS + 1), [])


# -- ids --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("abcd", ("abcd", True)),
        ("0123456789abcdef", ("0123456789abcdef", True)),
        ("ABCDEF12", ("abcdef12", True)),
        ("  abcd  ", ("abcd", True)),
        ("a" * 32, ("a" * 32, True)),
        # Too long for a prefix, still a valid exact id.
        ("a" * 33, ("a" * 33, False)),
        # Too short for a prefix.
        ("abc", ("abc", False)),
        ("my-note", ("my-note", False)),
        ("My-Note", ("my-note", False)),
        ("user@host:note+1.v2_x", ("user@host:note+1.v2_x", False)),
        ("0", ("0", False)),
        ("x" * MAX_ID_CHARS, ("x" * MAX_ID_CHARS, False)),
    ],
)
def test_check_id_tells_a_short_prefix_from_an_exact_id(
    given: str, expected: tuple[str, bool]
) -> None:
    assert check_id(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "",
        "   ",
        "-starts-with-a-dash",
        ".hidden",
        "has space",
        "slash/inside",
        "back\\slash",
        "semi;colon",
        "quote'd",
        "new\nline",
        "ünicode",
        "x" * (MAX_ID_CHARS + 1),
        "$(rm -rf ~)",
    ],
)
def test_check_id_refuses_what_is_not_an_identifier(given: str) -> None:
    with pytest.raises(InvalidInput, match="not a memory id"):
        check_id(given)


def test_check_id_refuses_a_non_string() -> None:
    with pytest.raises(InvalidInput, match="must be text"):
        check_id(1234)  # type: ignore[arg-type]


def test_check_id_message_quotes_at_most_the_longest_id() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_id("!" * 10_000)
    assert str(caught.value).count("!") == MAX_ID_CHARS


@pytest.mark.parametrize("bad", ["", "  ", "has space", "a/b", "x" * (MAX_ID_CHARS + 1)])
def test_a_memory_refuses_an_id_that_is_not_an_identifier(bad: str) -> None:
    with pytest.raises(InvalidInput):
        memory(id=bad)


def test_a_memory_id_is_lowercased_and_stripped() -> None:
    m = memory(id="  My-Note ")
    assert m.id == "my-note"
    assert m.short_id == "my-note"


def test_short_id_is_the_first_eight_characters() -> None:
    assert memory(id="0123456789abcdef").short_id == "01234567"


# -- normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, GLOBAL_PROJECT),
        ("", GLOBAL_PROJECT),
        ("shop", "shop"),
        ("my-app", "my-app"),
        ("my.app_2", "my.app_2"),
        ("my app", "my-app"),
        ("a/b/c", "a-b-c"),
        ("..", GLOBAL_PROJECT),
        ("../../etc", "etc"),
        ("  padded  ", "padded"),
        ("-dash-", "dash"),
        ("café", "café"),
    ],
)
def test_normalize_project_names_projects_without_separators(
    given: str | None, expected: str
) -> None:
    assert normalize_project(given) == expected


def test_normalize_project_caps_the_name_at_100_characters() -> None:
    assert normalize_project("p" * 300) == "p" * 100


def test_normalize_project_folds_a_lookalike_letter() -> None:
    assert normalize_project("\u0455hop") == "shop"  # Cyrillic s


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Use pnpm", "Use pnpm"),
        ("  Use   pnpm  ", "Use pnpm"),
        ("Use\npnpm\tnow", "Use pnpm now"),
        ("nul\x00byte", "nulbyte"),
        ("", ""),
        ("t" * 500, "t" * MAX_TITLE_CHARS),
    ],
)
def test_normalize_title_is_one_line_without_nul_bytes(given: str, expected: str) -> None:
    assert normalize_title(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("line one\r\nline two", "line one\nline two"),
        ("old mac\rline", "old mac\nline"),
        ("trailing   \nspaces\t", "trailing\nspaces"),
        ("\n\n\nleading blank lines", "leading blank lines"),
        ("ends\n\n\n", "ends"),
        ("  indented first line", "  indented first line"),
        ("nul\x00byte", "nulbyte"),
        ("para one\n\npara two", "para one\n\npara two"),
    ],
)
def test_normalize_content_canonicalises_line_ends_and_blank_edges(
    given: str, expected: str
) -> None:
    assert normalize_content(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["Python", "python", "#python"], ("python",)),
        (["two words"], ("two-words",)),
        (["ci/cd"], ("ci/cd",)),
        (["", "  ", "#"], ()),
        (["b", "a", "b"], ("b", "a")),
        (["t" * 100], ("t" * MAX_TAG_CHARS,)),
    ],
)
def test_normalize_tags_makes_obsidian_tags(given: list[str], expected: tuple[str, ...]) -> None:
    assert normalize_tags(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Use pnpm, not npm!", "use-pnpm-not-npm"),
        ("Café au lait", "cafe-au-lait"),
        ("   ", "memory"),
        ("日本語", "memory"),
        ("a" * 100, "a" * 60),
    ],
)
def test_slugify_gives_a_safe_file_name_part(given: str, expected: str) -> None:
    assert slugify(given) == expected


def test_slugify_does_not_end_a_cut_slug_with_a_dash() -> None:
    slug = slugify("word " * 30)
    assert len(slug) <= 60 and not slug.endswith("-")


# -- title_from_content ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("# Deploys\n\nRun make deploy.", "Deploys"),
        ("### Deep heading ###\nbody", "Deep heading ###"),
        ("\n\n  first real line  \nsecond", "first real line"),
        ("#\n\nafter an empty heading", "after an empty heading"),
        ("", "Untitled memory"),
        ("\n  \n", "Untitled memory"),
    ],
)
def test_title_from_content_takes_the_first_heading_or_line(content: str, expected: str) -> None:
    assert title_from_content(content) == expected


def test_title_from_content_shortens_a_long_first_line_at_a_word() -> None:
    line = "Always run the migrations before the integration tests " * 4
    title = title_from_content(line)
    assert title.endswith("…")
    assert len(title) <= 81
    assert line.startswith(title.removesuffix("…"))
    # The cut falls between words, not inside one.
    assert line[len(title) - 1] == " "


def test_a_memory_without_a_title_is_titled_from_its_content() -> None:
    m = memory(title="  ", content="## Ports\nThe API listens on 8080.")
    assert m.title == "Ports"


# -- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-11-21T12:00:00Z", NOON),
        ("2026-11-21T12:00:00z", NOON),
        ("2026-11-21T12:00:00", NOON),
        ("2026-11-21T14:00:00+02:00", NOON),
        ("2026-11-21", datetime(2026, 11, 21, tzinfo=UTC)),
        (date(2026, 11, 21), datetime(2026, 11, 21, tzinfo=UTC)),
        (datetime(2026, 11, 21, 12), NOON),
        (datetime(2026, 11, 21, 7, tzinfo=timezone(timedelta(hours=-5))), NOON),
    ],
)
def test_to_datetime_gives_an_aware_utc_datetime(
    given: datetime | date | str, expected: datetime
) -> None:
    result = to_datetime(given)
    assert result == expected
    assert result.tzinfo == UTC


@pytest.mark.parametrize("bad", ["yesterday", "", "2026-13-01", "21/11/2026"])
def test_to_datetime_refuses_what_is_not_iso_8601(bad: str) -> None:
    with pytest.raises(InvalidInput, match="not an ISO-8601"):
        to_datetime(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (NOON, "2026-11-21T12:00:00Z"),
        (NOON.replace(microsecond=1500), "2026-11-21T12:00:00.001500Z"),
        (datetime(2026, 11, 21, 13, tzinfo=timezone(timedelta(hours=1))), "2026-11-21T12:00:00Z"),
    ],
)
def test_format_datetime_writes_utc_with_a_z(value: datetime, expected: str) -> None:
    assert format_datetime(value) == expected
    assert to_datetime(expected) == value


# -- layers, statuses, sources ------------------------------------------------------------------


@pytest.mark.parametrize("layer", LAYERS)
def test_every_layer_is_accepted(layer: int) -> None:
    assert memory(layer=layer).layer == layer


@pytest.mark.parametrize("bad", [-1, 4, 10, 2.0, "2", True, None])
def test_a_layer_outside_0_to_3_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInput, match="layer must be 0-3"):
        memory(layer=bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, True), (3, True), (4, False), (-1, False), (True, False), (1.0, False), ("1", False)],
)
def test_is_layer_accepts_only_the_four_layer_integers(value: object, expected: bool) -> None:
    assert is_layer(value) is expected


@pytest.mark.parametrize("status", STATUSES)
def test_every_status_is_accepted(status: str) -> None:
    assert memory(status=status).status == status


@pytest.mark.parametrize("bad", ["Active", "retired", "", "dead"])
def test_an_unknown_status_is_refused_naming_the_known_ones(bad: str) -> None:
    with pytest.raises(InvalidInput, match="status must be one of active, deprecated"):
        memory(status=bad)


@pytest.mark.parametrize("source", SOURCE_TYPES)
def test_every_source_is_accepted(source: str) -> None:
    assert memory(source_type=source).source_type == source


@pytest.mark.parametrize("bad", ["mine", "USER", "web", ""])
def test_an_unknown_source_is_refused_naming_the_known_ones(bad: str) -> None:
    with pytest.raises(InvalidInput, match="source_type must be one of mined, user, import"):
        memory(source_type=bad)


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [(is_status, "deprecated", "removed"), (is_source, "import", "imported")],
)
def test_status_and_source_guards(check: Any, good: str, bad: str) -> None:
    assert check(good) is True
    assert check(bad) is False


@pytest.mark.parametrize("importance", [1, 3, 5])
def test_importance_1_to_5_is_accepted(importance: int) -> None:
    assert memory(importance=importance).importance == importance


@pytest.mark.parametrize("bad", [0, 6, -3])
def test_importance_outside_1_to_5_is_refused(bad: int) -> None:
    with pytest.raises(InvalidInput, match="importance must be 1-5"):
        memory(importance=bad)


def test_the_first_bad_field_is_the_one_reported() -> None:
    with pytest.raises(InvalidInput, match="layer"):
        memory(layer=9, status="gone")


def test_a_memory_needs_content() -> None:
    with pytest.raises(InvalidInput, match="needs content"):
        memory(content="\n  \n\t")


def test_memory_errors_are_memem_errors() -> None:
    with pytest.raises(MememError):
        memory(layer=7)


# -- the value ---------------------------------------------------------------------------------


def test_a_memory_is_canonical_on_construction() -> None:
    m = memory(
        title="  Use\npnpm ",
        content="line  \r\nnext\n\n",
        project="my app",
        tags=["#Tooling", "tooling", "Node JS"],
        created="2026-11-21T12:00:00Z",
        updated="2026-11-21",
        source_session="  ",
        related=["AAAA1111", "not an id", "aaaa1111", "0123456789abcdef"],
        contradicts=["bbbb2222"],
    )
    assert m.title == "Use pnpm"
    assert m.content == "line\nnext"
    assert m.project == "my-app"
    assert m.tags == ("tooling", "node-js")
    assert m.created == NOON
    assert m.updated == datetime(2026, 11, 21, tzinfo=UTC)
    assert m.source_session is None
    # Ids are lowercased and de-duplicated; text and the memory's own id are left out.
    assert m.related == ("aaaa1111",)
    assert m.contradicts == ("bbbb2222",)


def test_defaults_are_a_global_active_user_memory_in_layer_2() -> None:
    m = memory()
    assert (m.project, m.layer, m.importance, m.status, m.source_type) == (
        GLOBAL_PROJECT,
        2,
        3,
        "active",
        "user",
    )
    assert m.active
    assert m.valid_to is None


def test_a_deprecated_memory_is_not_active() -> None:
    assert not memory(status="deprecated", valid_to=NOON).active


def test_a_memory_is_read_only() -> None:
    m = memory()
    with pytest.raises(AttributeError, match="read-only"):
        m.title = "changed"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="read-only"):
        del m.content  # type: ignore[misc]


def test_evolve_checks_the_changed_fields_again() -> None:
    m = memory()
    changed = m.evolve(status="deprecated", layer=1)
    assert (changed.status, changed.layer, changed.id) == ("deprecated", 1, m.id)
    assert m.status == "active"
    with pytest.raises(InvalidInput):
        m.evolve(status="nope")


def test_equal_fields_make_equal_memories() -> None:
    a, b = memory(tags=["x"]), memory(tags=["#X"])
    assert a == b
    assert a != memory(title="Other")
    assert a != memory(extra={"k": "v"})


def test_trusted_rebuilds_the_same_memory_without_normalising() -> None:
    m = memory(tags=["a", "b"], layer=1, situations=["Which package manager?"])
    assert Memory.trusted(**m.fields()) == m


def test_filename_is_the_slug_and_the_short_id() -> None:
    assert memory(title="Use pnpm, not npm").filename == "use-pnpm-not-npm-01234567.md"


def test_to_dict_is_json_ready() -> None:
    m = memory(extra={"when": date(2026, 1, 2), "n": 3}, valid_to=NOON, status="deprecated")
    d = m.to_dict()
    assert d["created"] == "2026-11-21T12:00:00Z"
    assert d["valid_to"] == "2026-11-21T12:00:00Z"
    assert d["tags"] == [] and d["related"] == []
    assert d["extra"] == {"when": "2026-01-02", "n": 3}
    assert d["content"] == m.content


# -- situations --------------------------------------------------------------------------------


def test_situations_are_one_line_each_distinct_and_without_empties() -> None:
    m = memory(situations=["  How do we\n install   deps? ", "", "How do we install deps?", " "])
    assert m.situations == ("How do we install deps?",)
    assert m.to_dict()["situations"] == ["How do we install deps?"]


def test_situations_are_clipped_and_capped_when_read_from_a_hand_edited_file() -> None:
    m = memory(situations=[f"question {n} " + "why " * 80 for n in range(MAX_SITUATIONS + 3)])
    assert len(m.situations) == MAX_SITUATIONS
    assert all(len(s) <= MAX_SITUATION_CHARS and s.endswith("…") for s in m.situations)


def test_a_situation_cut_short_is_redacted_first_so_no_half_secret_is_left() -> None:
    key = "sk-ant-api03-" + "a1B2c3D4e5F6g7H8i9J0" * 3
    # The key straddles the cut: cut first, its first half would no longer read as a key.
    (situation,) = memory(situations=["w " * 90 + f"{key} unlocks what?"]).situations
    assert "sk-ant" not in situation and "[REDACTED:" in situation


def test_the_embedding_model_reads_the_title_then_the_situations_then_the_content() -> None:
    m = memory(situations=["Which package manager?", "Why does npm break the lockfile?"])
    assert embedding_text(m.title, m.content, m.situations) == (
        "Use pnpm\nWhich package manager?\nWhy does npm break the lockfile?\n"
        "The repo uses pnpm; npm breaks the lockfile."
    )
    plain = memory()
    assert embedding_text(plain.title, plain.content, plain.situations) == (
        "Use pnpm\nThe repo uses pnpm; npm breaks the lockfile."
    )
