from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memem.core import markdown
from memem.core.memory import SOURCE_TYPES, STATUSES, Memory
from memem.errors import InvalidInput
from memem.service.saving import new_id

T0 = datetime(2026, 11, 21, 6, 40, tzinfo=UTC)
FALLBACK = {"fallback_id": "f" * 32, "fallback_time": T0, "fallback_title": "note"}

ids = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
times = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=300
)
plain = st.text(alphabet=string.ascii_letters + string.digits + " -_.:#'\"", max_size=40)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    plain,
    times,
)
extras = st.dictionaries(
    st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=12).filter(
        lambda k: k not in markdown.FIELDS
    ),
    st.one_of(scalars, st.lists(plain, max_size=3)),
    max_size=3,
)


@st.composite
def memories(draw: st.DrawFn) -> Memory:
    content = draw(texts)
    if not content.strip():
        content = "x" + content
    return Memory(
        id=draw(ids),
        title=draw(texts),
        content=content,
        project=draw(plain),
        tags=tuple(draw(st.lists(plain, max_size=4))),
        situations=tuple(draw(st.lists(texts, max_size=6))),
        layer=draw(st.integers(0, 3)),
        importance=draw(st.integers(1, 5)),
        status=draw(st.sampled_from(["active", "deprecated"])),
        source_type=draw(st.sampled_from(["mined", "user", "import"])),
        source_session=draw(st.one_of(st.none(), plain)),
        created=draw(times),
        updated=draw(times),
        valid_to=draw(st.one_of(st.none(), times)),
        related=tuple(draw(st.lists(ids, max_size=3))),
        contradicts=tuple(draw(st.lists(ids, max_size=2))),
        extra=draw(extras),
        branch=draw(st.one_of(st.none(), plain, texts)),
        private=draw(st.booleans()),
    )


@settings(max_examples=300, deadline=None)
@given(memories())
def test_parse_of_render_is_identity(memory: Memory) -> None:
    assert markdown.parse(markdown.render(memory), **FALLBACK) == memory


def test_related_ids_are_mirrored_as_wikilinks_and_ignored_on_read() -> None:
    other = new_id()
    m = Memory(id=new_id(), title="T", content="body", created=T0, updated=T0, related=(other,))
    text = markdown.render(m, {other: "other-note-1234abcd"})
    assert "## Related\n\n- [[other-note-1234abcd]]" in text
    edited = text.replace("[[other-note-1234abcd]]", "[[something-else]]")
    assert markdown.parse(edited, **FALLBACK) == m


def test_content_that_ends_like_a_related_block_survives() -> None:
    m = Memory(
        id=new_id(), title="T", content="notes\n\n## Related\n\n- [[mine]]", created=T0, updated=T0
    )
    assert markdown.parse(markdown.render(m), **FALLBACK).content == m.content


def test_bom_crlf_and_yaml_dates_are_tolerated() -> None:
    text = (
        "\ufeff---\r\nid: "
        + "a" * 32
        + "\r\ntitle: Hello\r\ncreated: 2026-01-02\r\n---\r\nBody line\r\n"
    )
    m = markdown.parse(text, **FALLBACK)
    assert m.title == "Hello"
    assert m.content == "Body line"
    assert m.created == datetime(2026, 1, 2, tzinfo=UTC)
    assert m.updated == m.created


def test_unknown_keys_are_kept_in_order() -> None:
    text = "---\nid: " + "b" * 32 + "\naliases: [x, y]\ncssclass: wide\n---\nBody\n"
    m = markdown.parse(text, **FALLBACK)
    assert list(m.extra) == ["aliases", "cssclass"]
    rendered = markdown.render(m)
    assert "aliases:\n- x\n- y\ncssclass: wide\n" in rendered
    assert markdown.parse(rendered, **FALLBACK) == m


def test_a_note_without_frontmatter_takes_the_fallbacks() -> None:
    m = markdown.parse("# My note\n\nSome text", **FALLBACK)
    assert (m.id, m.title, m.created) == ("f" * 32, "My note", T0)


def test_hand_typed_values_are_coerced() -> None:
    text = (
        "---\nlayer: L1\nimportance: '4'\ntags: db, postgres\nrelated: " + "c" * 32 + "\n---\nx\n"
    )
    m = markdown.parse(text, **FALLBACK)
    assert (m.layer, m.importance, m.tags, m.related) == (1, 4, ("db", "postgres"), ("c" * 32,))


def test_situations_are_a_yaml_list_in_the_frontmatter_and_absent_when_empty() -> None:
    asked = ("How do we deploy?", 'What does "fly deploy" need?')
    m = Memory(id=new_id(), title="T", content="body", created=T0, updated=T0, situations=asked)
    text = markdown.render(m)
    assert 'situations: ["How do we deploy?", "What does \\"fly deploy\\" need?"]\n' in text
    assert markdown.parse(text, **FALLBACK).situations == asked
    assert "situations" not in markdown.render(m.evolve(situations=()))


@pytest.mark.parametrize(
    ("value", "read"),
    [
        # Obsidian writes a list property as a block list.
        (
            "\n  - How do we deploy?\n  - Where are the logs?",
            ("How do we deploy?", "Where are the logs?"),
        ),
        ("How do we deploy, and where?", ("How do we deploy, and where?",)),
        (
            "[How do we deploy?, 42, null, [nested], {a: b}, '  ', How do we deploy?]",
            ("How do we deploy?", "42"),
        ),
        ("", ()),
        ("\n  - " + "why " * 100, ("why " * 49 + "why…",)),
    ],
)
def test_hand_edited_situations_are_read_as_far_as_they_make_sense(
    value: str, read: tuple[str, ...]
) -> None:
    m = markdown.parse(f"---\ntitle: T\nsituations: {value}\n---\nx\n", **FALLBACK)
    assert m.situations == read


def test_a_file_from_an_older_build_has_no_situations() -> None:
    m = markdown.parse("---\nid: " + "a" * 32 + "\ntitle: Old\n---\nBody\n", **FALLBACK)
    assert m.situations == () and "situations" not in m.extra


def test_branch_and_private_are_written_only_when_set_so_old_files_render_the_same() -> None:
    old = "---\nid: " + "a" * 32 + "\ntitle: Old\n---\nBody\n"
    m = markdown.parse(old, **FALLBACK)
    assert (m.branch, m.private) == (None, False)
    assert "branch" not in markdown.render(m) and "private" not in markdown.render(m)
    marked = m.evolve(branch="feature/checkout", private=True)
    text = markdown.render(marked)
    assert "\nbranch: feature/checkout\nprivate: true\n" in text
    assert markdown.parse(text, **FALLBACK) == marked
    assert marked.to_dict()["branch"] == "feature/checkout" and marked.to_dict()["private"]


@pytest.mark.parametrize(
    ("value", "private"),
    [
        ("true", True),
        ("yes", True),
        ('"true"', True),
        ("1", True),
        # A typo keeps the memory private: it must not reach a shared remote by mistake.
        ("ture", True),
        ("false", False),
        ("no", False),
        ("0", False),
        ("", False),
    ],
)
def test_a_hand_edited_private_flag_errs_on_the_side_of_private(value: str, private: bool) -> None:
    m = markdown.parse(f"---\ntitle: T\nprivate: {value}\n---\nx\n", **FALLBACK)
    assert m.private is private and "private" not in m.extra


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("---\ntitle: x\nsituations: {a: b}\n---\nx", "situations must be a list"),
        ("---\ntitle: [unclosed\n---\nx", "invalid YAML"),
        ("---\ntitle: x\nno closing fence", "never closed"),
        ("---\n- a list\n- not a mapping\n---\nx", "not a mapping"),
        ("---\na: &a [1, 2]\nb: [*a, *a]\n---\nx", "aliases"),
        ("---\nlayer: banana\n---\nx", "layer must be a number"),
        ("---\nlayer: 7\n---\nx", "layer must be 0-3"),
        ("---\ncreated: not a date\n---\nx", "ISO-8601"),
        ("---\ntitle: only frontmatter\n---\n", "needs content"),
    ],
)
def test_broken_frontmatter_is_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        markdown.parse(text, **FALLBACK)


def test_a_yaml_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 12)]
    with pytest.raises(InvalidInput, match="aliases"):
        markdown.parse("---\n" + "\n".join(lines) + "\n---\nbody", **FALLBACK)


def test_datetimes_normalise_to_utc() -> None:
    local = datetime(2026, 1, 1, 12, tzinfo=UTC) + timedelta(hours=2)
    m = Memory(id=new_id(), title="t", content="c", created=local.isoformat(), updated=local)
    assert m.created.tzinfo == UTC
    assert markdown.parse(markdown.render(m), **FALLBACK) == m


def _frontmatter(text: str) -> str:
    return text.split("---\n", 2)[1]


@settings(max_examples=300, deadline=None)
@given(memories())
def test_the_fast_frontmatter_reader_agrees_with_pyyaml(memory: Memory) -> None:
    import yaml

    fm = _frontmatter(markdown.render(memory))
    fast = markdown._fast_load(fm.strip("\n"))
    if not memory.extra:
        assert fast is not None  # memem's own files never need PyYAML
    if fast is not None:
        assert fast == yaml.load(fm, Loader=yaml.CSafeLoader)


@pytest.mark.parametrize(
    "line",
    [
        'a: "\\ud83d\\ude00"',
        "a: yes",
        "a: Y",
        "a: 0x1F",
        "a: 1_000",
        "a: 2026-01-01",
        "a: 2026-01-01 10:00:00",
        'a: "tab\\tquote\\""',
        'a: [x, y z, "w, v"]',
        "a: [x,y]",
        "a: plain text: with colon",
        "yes: 1",
        "a: 'single'",
        "a: 12.5",
        "a: -0",
        "a: ~",
        "a: [x, [nested]]",
    ],
)
def test_the_fast_reader_matches_pyyaml_or_declines(line: str) -> None:
    import yaml

    fast = markdown._fast_load(line)
    assert fast is None or fast == yaml.load(line, Loader=yaml.CSafeLoader)


def test_a_memory_is_an_immutable_value() -> None:
    """Memory is a `memem.core.value.Value` (not a dataclass: the hook cannot afford the import),
    with the dataclass behaviours memem relies on."""
    m = Memory(id=new_id(), title="T", content="body", created=T0, updated=T0, tags=("#A", "a"))
    twin = Memory(**m.fields())
    assert twin == m and twin is not m
    assert m != m.evolve(content="other body")
    assert m.evolve(tags=("x y",)).tags == ("x-y",)  # evolve normalises like the constructor
    assert repr(m).startswith("Memory(") and f"id={m.id!r}" in repr(m)
    with pytest.raises(AttributeError, match="read-only"):
        m.title = "changed"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="read-only"):
        del m.content
    assert Memory.trusted(**m.fields()) == m
    from memem.core.slice import Environment

    assert hash(Environment(cwd="/a")) == hash(Environment(cwd="/a"))
    assert len({Environment(cwd="/a"), Environment(cwd="/a"), Environment(cwd="/b")}) == 2


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        ("layer: 0", "layer", 0),
        ("layer: L3", "layer", 3),
        ("layer: l1", "layer", 1),
        ("layer: ' 2 '", "layer", 2),
        ("layer: ''", "layer", 2),
        ("status: active", "status", "active"),
        ("status: Deprecated", "status", "deprecated"),
        ("status: ' ACTIVE '", "status", "active"),
        ("source_type: MINED", "source_type", "mined"),
        ("source_type: import", "source_type", "import"),
        ("source_type: ~", "source_type", "user"),
    ],
)
def test_a_files_layer_status_and_source_are_read_into_the_fixed_sets(
    line: str, field: str, value: object
) -> None:
    m = markdown.parse(f"---\n{line}\n---\nbody\n", **FALLBACK)
    assert getattr(m, field) == value


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("layer: true", "layer must be a number"),
        ("layer: 2.0", "layer must be a number"),
        ("layer: L4", "layer must be 0-3"),
        ("layer: -1", "layer must be 0-3"),
        ("status: retired", "status must be one of active, deprecated, archived"),
        ("status: [active]", "status must be text"),
        ("source_type: web", "source_type must be one of mined, user, import"),
        ("source_type: {a: 1}", "source_type must be text"),
    ],
)
def test_a_value_outside_a_fixed_set_is_a_broken_file_reason(line: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        markdown.parse(f"---\n{line}\n---\nbody\n", **FALLBACK)


@pytest.mark.parametrize(("status", "source"), [(s, t) for s in STATUSES for t in SOURCE_TYPES])
def test_every_status_and_source_round_trips(status: str, source: str) -> None:
    m = Memory(
        id="d" * 32,
        title="t",
        content="c",
        created=T0,
        updated=T0,
        status=status,
        source_type=source,
    )
    assert markdown.parse(markdown.render(m), **FALLBACK) == m
