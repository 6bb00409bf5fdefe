"""memem's one exception tree: the shape the front-ends rely on when they translate errors
(the CLI and the MCP server catch MememError, the miner retries TransientError and gives up on
PermanentError, import and reconcile report InvalidInput and BrokenFile and carry on)."""

from __future__ import annotations

import inspect
import re

import pytest

import memem.errors as errors
from memem.errors import (
    BrokenFile,
    ConfigError,
    ExtractionError,
    InvalidInput,
    MalformedReply,
    MememError,
    NotFound,
    PermanentError,
    Quarantined,
    SecurityError,
    TooLarge,
    TransientError,
)
from memem.service.store import Store
from tests.conftest import run_cli

CLASSES = {
    name: value
    for name, value in vars(errors).items()
    if inspect.isclass(value) and issubclass(value, Exception)
}


def drawn_tree() -> dict[str, str | None]:
    """Each class of the module docstring's drawing, with the class drawn above it."""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^(\s*(?:[│ ]*[├└]── )?)([A-Z]\w+)\s{2,}", line)
        if not match:
            continue
        depth, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return parents


def test_the_docstring_draws_every_class_under_its_real_base() -> None:
    drawn = drawn_tree()
    assert set(drawn) == set(CLASSES)
    for name, parent in drawn.items():
        base = CLASSES[name].__bases__[0]
        assert base.__name__ == (parent or "Exception"), name


@pytest.mark.parametrize("cls", sorted(CLASSES.values(), key=lambda c: c.__name__))
def test_every_error_is_a_memem_error_so_front_ends_catch_them_all(cls: type) -> None:
    assert issubclass(cls, MememError)


@pytest.mark.parametrize(
    ("cls", "is_a", "is_not"),
    [
        # The miner retries what is transient, and a malformed reply is worth another try.
        (MalformedReply, (TransientError, ExtractionError), (PermanentError,)),
        (TransientError, (ExtractionError,), (PermanentError,)),
        (PermanentError, (ExtractionError,), (TransientError,)),
        # Refused input, whatever the reason, is reported as a bad argument.
        (SecurityError, (InvalidInput,), (BrokenFile,)),
        (TooLarge, (InvalidInput,), (SecurityError,)),
        # A quarantined file is skipped like any broken one.
        (Quarantined, (BrokenFile,), (InvalidInput,)),
        # Neither a missing memory nor a bad setting is the user's malformed argument.
        (NotFound, (MememError,), (InvalidInput, BrokenFile)),
        (ConfigError, (MememError,), (InvalidInput, ExtractionError)),
        (BrokenFile, (MememError,), (InvalidInput, ExtractionError)),
    ],
)
def test_what_each_error_is_and_is_not(
    cls: type, is_a: tuple[type, ...], is_not: tuple[type, ...]
) -> None:
    assert all(issubclass(cls, base) for base in is_a)
    assert not any(issubclass(cls, other) for other in is_not)


def test_a_broken_file_names_its_path_and_reason() -> None:
    exc = BrokenFile("vault/note.md", "frontmatter never closed")
    assert str(exc) == "vault/note.md: frontmatter never closed"
    assert (exc.path, exc.reason) == ("vault/note.md", "frontmatter never closed")


def test_a_quarantined_file_also_carries_the_memory_id() -> None:
    exc = Quarantined("vault/x.md", "prompt injection", "abcd1234")
    assert str(exc) == "vault/x.md: prompt injection"
    assert (exc.path, exc.reason, exc.memory_id) == ("vault/x.md", "prompt injection", "abcd1234")


def test_a_transient_error_carries_the_servers_retry_hint() -> None:
    assert TransientError("429").retry_after is None
    assert TransientError("429", retry_after=12.5).retry_after == 12.5
    assert MalformedReply("not JSON").retry_after is None


# -- at the edges ------------------------------------------------------------------------------


def test_the_store_raises_not_found_for_an_unknown_id(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get("abcdef12")


def test_the_store_raises_invalid_input_for_a_malformed_id(store: Store) -> None:
    with pytest.raises(InvalidInput, match="not a memory id"):
        store.get("not an id!")


def test_the_store_refuses_oversized_content_as_too_large(store: Store) -> None:
    with pytest.raises(TooLarge):
        store.save("x" * 100_001)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("get", "abcdef12"), "memem: "),
        (("get", "not an id!"), "memem: not a memory id"),
    ],
)
def test_the_cli_prints_one_line_and_exits_1_for_a_memem_error(
    args: tuple[str, ...], message: str
) -> None:
    result = run_cli(*args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message)
    assert "Traceback" not in result.stderr
