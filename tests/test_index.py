"""The storage layer of the index (memem.storage): the database (connection, migrations,
recover, transactions), the memory rows and their named queries, and the search's retrieval.
Real SQLite files in tmp_path."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from memem.core.memory import Memory
from memem.storage import database, index, records, retrieval, terms
from memem.storage.index import Index

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def memory(
    id: str,
    content: str,
    *,
    project: str = "shop",
    layer: int = 2,
    status: str = "active",
    importance: int = 3,
    minutes: int = 0,
    session: str | None = None,
) -> Memory:
    when = T0 + timedelta(minutes=minutes)
    return Memory(
        id=id,
        title=content[:40],
        content=content,
        project=project,
        layer=layer,
        status=status,
        importance=importance,
        created=when,
        updated=when,
        source_session=session,
    )


def put(conn: sqlite3.Connection, *memories: Memory) -> None:
    for m in memories:
        index.upsert(
            conn, m, file=f"{m.id}.md", hash=f"h-{m.id}", mtime_ns=1, size=10, fingerprint=m.id
        )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Index]:
    handle = Index(tmp_path / "state" / "index.sqlite3")
    yield handle
    handle.close()


# -- the database --------------------------------------------------------------------------------


def test_a_new_index_is_migrated_to_the_latest_schema_in_wal_mode(db: Index) -> None:
    conn = db.connection()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(database.MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == database.BUSY_TIMEOUT_MS
    assert (Path(db.path).stat().st_mode & 0o777) == 0o600


def test_an_old_index_is_migrated_forward_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    for statement in database._statements(database.MIGRATIONS[0]):
        old.execute(statement)
    old.execute("PRAGMA user_version = 1")
    old.close()
    db = Index(path)
    conn = db.connection()
    put(conn, memory("a" * 32, "Deploys go through Fly.io"))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(database.MIGRATIONS)
    index.set_quarantined(conn, "x.md", "x", "injection", "h", 1, 2)
    assert index.quarantined_files(conn) == {"x.md": ("x", "injection", "h", 1, 2)}
    db.close()


def test_an_index_built_before_situations_is_migrated_and_still_searches(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    for script in database.MIGRATIONS[:2]:
        for statement in database._statements(script):
            old.execute(statement)
    old.execute("PRAGMA user_version = 2")
    columns = database.MEMORY_COLUMNS.removesuffix(", situations, branch, private, provenance")
    plain = memory("a" * 32, "Deploys go through Fly.io from main")
    # An older build kept a newer file's situations among its unknown keys.
    kept = memory("b" * 32, "Invoices are numbered per year").evolve(
        extra={"situations": ["How are invoices numbered?"]}
    )
    for m in (plain, kept):
        found = terms.memory_terms(old, m)
        values = index._values(
            m, file=f"{m.id}.md", hash="h", mtime_ns=1, size=2, fingerprint=m.id, terms=found
        )[:-4]
        marks = ",".join("?" * len(values))
        old.execute(f"INSERT INTO memories({columns}) VALUES ({marks})", values)
        terms.adjust_terms(old, found, +1)
    old.close()
    db = Index(path)
    conn = db.connection()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(database.MIGRATIONS)
    assert [s.memory.id for s in retrieval.search(conn, ["deploys", "fly.io"])] == ["a" * 32]
    assert index.get(conn, "a" * 32).memory.situations == ()  # type: ignore[union-attr]
    # Read again at the next reconcile: neither its stat nor its hash match the file's.
    assert index.files(conn)["b" * 32 + ".md"] == (-1, 2)
    assert index.file_record(conn, "b" * 32 + ".md") == ("b" * 32, "")
    assert index.file_record(conn, "a" * 32 + ".md") == ("a" * 32, "h")
    put(
        conn, memory("c" * 32, "The signing key lives in Vault").evolve(situations=["rotate certs"])
    )
    assert [s.memory.id for s in retrieval.search(conn, ["rotate", "certs"])] == ["c" * 32]
    assert db.verify() is None
    db.close()


def test_an_index_built_before_branches_is_migrated_and_rereads_files_that_kept_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "index.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    for script in database.MIGRATIONS[:3]:
        for statement in database._statements(script):
            old.execute(statement)
    old.execute("PRAGMA user_version = 3")
    columns = database.MEMORY_COLUMNS.removesuffix(", branch, private, provenance")
    plain = memory("a" * 32, "Deploys go through Fly.io from main")
    # An older build kept a newer file's branch and private flag among its unknown keys.
    kept = memory("b" * 32, "Invoices are numbered per year").evolve(
        extra={"branch": "feature-x", "private": True}
    )
    for m in (plain, kept):
        values = index._values(
            m, file=f"{m.id}.md", hash="h", mtime_ns=1, size=2, fingerprint=m.id, terms=()
        )[:-3]
        old.execute(
            f"INSERT INTO memories({columns}) VALUES ({','.join('?' * len(values))})", values
        )
    old.close()
    db = Index(path)
    conn = db.connection()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(database.MIGRATIONS)
    got = index.get(conn, "a" * 32)
    assert got is not None and (got.memory.branch, got.memory.private) == (None, False)
    assert index.file_record(conn, "b" * 32 + ".md") == ("b" * 32, "")
    assert index.file_record(conn, "a" * 32 + ".md") == ("a" * 32, "h")
    db.close()


def test_a_row_keeps_the_branch_and_the_private_flag(db: Index) -> None:
    conn = db.connection()
    marked = memory("a" * 32, "Checkout uses the new tax API").evolve(
        branch="feature/tax", private=True
    )
    put(conn, marked, memory("b" * 32, "Plain"))
    assert index.get(conn, "a" * 32).memory == marked  # type: ignore[union-attr]
    assert index.get(conn, "b" * 32).memory.private is False  # type: ignore[union-attr]


def test_each_thread_gets_its_own_connection(db: Index) -> None:
    mine = db.connection()
    theirs: list[sqlite3.Connection] = []
    thread = threading.Thread(target=lambda: theirs.append(db.connection()))
    thread.start()
    thread.join()
    assert db.connection() is mine and theirs[0] is not mine


def test_a_write_commits_on_success_and_rolls_back_on_an_exception(db: Index) -> None:
    with db.write() as conn:
        put(conn, memory("a" * 32, "kept"))
    with pytest.raises(RuntimeError), db.write() as conn:
        put(conn, memory("b" * 32, "rolled back"))
        raise RuntimeError("boom")
    conn = db.connection()
    assert [r.memory.id for r in index.all_memories(conn)] == ["a" * 32]
    assert not conn.in_transaction


def test_begin_commit_and_rollback_bracket_a_save(db: Index) -> None:
    conn = db.connection()
    index.begin(conn)
    put(conn, memory("a" * 32, "one"))
    index.rollback(conn)
    assert index.get(conn, "a" * 32) is None
    # The tokenizer's scratch tables were first made in the rolled-back transaction.
    index.begin(conn)
    put(conn, memory("a" * 32, "one"))
    index.commit(conn)
    assert index.get(conn, "a" * 32) is not None


def test_a_file_that_is_not_a_database_is_moved_aside_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    db = Index(path)
    conn = db.connection()
    assert index.doc_count(conn) == 0
    (aside, reason), *_ = db.recovered
    assert Path(aside).read_bytes().startswith(b"this is not sqlite")
    assert "corrupt" in aside and reason
    db.close()


def test_a_database_of_someone_else_is_not_taken_for_an_index(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE memories (x)")
    other.execute("PRAGMA user_version = 5")
    other.commit()
    other.close()
    db = Index(path)
    db.connection()
    assert len(db.recovered) == 1 and "not a memem index" in db.recovered[0][1]
    db.close()


def test_verify_finds_nothing_wrong_with_a_healthy_index(db: Index) -> None:
    put(db.connection(), memory("a" * 32, "healthy"))
    assert db.verify() is None
    assert db.recovered == []


@pytest.mark.parametrize(
    ("code", "unusable"),
    [(11, True), (26, True), (5, False), (6, False), (13, False)],
)
def test_only_a_damaged_file_counts_as_unusable(code: int, unusable: bool) -> None:
    exc = sqlite3.DatabaseError("x")
    exc.sqlite_errorcode = code
    assert index.unusable(exc) is unusable


# -- memory rows ---------------------------------------------------------------------------------


def test_upsert_round_trips_a_memory_and_keeps_term_counts(db: Index) -> None:
    conn = db.connection()
    m = memory("a" * 32, "Deploys go through Fly.io", session="s1")
    put(conn, m)
    row = index.get(conn, m.id)
    assert row is not None and row.memory == m and row.file == f"{m.id}.md"
    assert "deploi" in row.terms and terms.document_frequencies(conn, ["deploi"]) == {"deploi": 1}
    put(conn, m.evolve(title="Releases", content="Releases go through Fly.io"))
    assert terms.document_frequencies(conn, ["deploi", "releas"]) == {"deploi": 0, "releas": 1}
    assert index.doc_count(conn) == 1


def test_a_row_for_the_same_file_under_another_id_is_replaced(db: Index) -> None:
    conn = db.connection()
    put(conn, memory("a" * 32, "first"))
    index.upsert(
        conn,
        memory("b" * 32, "second"),
        file=f"{'a' * 32}.md",
        hash="h",
        mtime_ns=1,
        size=1,
        fingerprint="f",
    )
    assert [r.memory.id for r in index.all_memories(conn)] == ["b" * 32]


def test_delete_removes_the_row_and_its_edges(db: Index) -> None:
    conn = db.connection()
    put(conn, memory("a" * 32, "one"), memory("b" * 32, "two"))
    index.add_edges(conn, [("a" * 32, "b" * 32, "related", 0.5)])
    index.delete(conn, "a" * 32)
    assert index.get(conn, "a" * 32) is None and index.edges_of(conn, "b" * 32) == []
    index.delete(conn, "missing")  # nothing to do, no error


def test_load_replaces_every_row_in_one_pass(db: Index) -> None:
    conn = db.connection()
    put(conn, memory("z" * 32, "gone after the rebuild"))
    entries = [
        (memory(c * 32, f"note {c} about caching"), f"{c}.md", "h", 1, 1, "f") for c in "abc"
    ]
    assert index.load(conn, entries) == 3
    assert sorted(r.memory.id for r in index.all_memories(conn)) == ["a" * 32, "b" * 32, "c" * 32]
    assert "cach" in index.get(conn, "a" * 32).terms  # type: ignore[union-attr]
    assert terms.document_frequencies(conn, ["cach"]) == {"cach": 3}
    assert index.doc_count(conn) == 3


def test_a_memory_is_found_by_a_word_only_in_its_situations(db: Index) -> None:
    conn = db.connection()
    asked = memory("a" * 32, "The signing key lives in Vault under pki/shop").evolve(
        situations=["How do I rotate the TLS certificate?"]
    )
    put(conn, asked, *(memory(f"{n:032d}", f"filler note {n} about layout") for n in range(5)))
    assert [s.memory.id for s in retrieval.search(conn, ["rotate", "certificate"])] == ["a" * 32]
    row = index.get(conn, "a" * 32)
    assert row is not None and row.memory == asked and {"rotat", "certif"} <= row.terms
    put(conn, asked.evolve(situations=["Where is the signing key?"]))
    assert retrieval.search(conn, ["rotate", "certificate"]) == []
    assert terms.document_frequencies(conn, ["rotat"]) == {"rotat": 0}
    # A rebuild reads the same terms back from the FTS index.
    entries = [(asked, "a.md", "h", 1, 1, "f")]
    index.load(conn, entries)
    assert {"rotat", "certif"} <= index.get(conn, "a" * 32).terms  # type: ignore[union-attr]
    assert [s.memory.id for s in retrieval.search(conn, ["rotate", "certificate"])] == ["a" * 32]


def test_get_many_and_prefixes_and_fingerprints(db: Index) -> None:
    conn = db.connection()
    put(conn, memory("ab" + "1" * 30, "one"), memory("ab" + "2" * 30, "two"))
    assert set(index.get_many(conn, ["ab" + "1" * 30, "nope"])) == {"ab" + "1" * 30}
    assert len(index.ids_with_prefix(conn, "ab")) == 2
    assert index.ids_with_prefix(conn, "ab1") == ["ab" + "1" * 30]
    found = index.by_fingerprint(conn, "ab" + "2" * 30, "shop")
    assert found is not None and found.memory.content == "two"
    assert index.by_fingerprint(conn, "ab" + "2" * 30, "other") is None


def test_anchors_are_the_active_l0_memories_most_important_first(db: Index) -> None:
    conn = db.connection()
    put(
        conn,
        memory("a" * 32, "anchor low", layer=0, importance=2),
        memory("b" * 32, "anchor high", layer=0, importance=5),
        memory("c" * 32, "anchor gone", layer=0, status="deprecated"),
        memory("d" * 32, "not an anchor", layer=1),
        memory("e" * 32, "elsewhere", layer=0, project="other"),
    )
    assert [r.memory.id for r in index.anchors(conn, "shop")] == ["b" * 32, "a" * 32]
    assert [r.memory.id for r in index.anchors(conn, "shop", 1)] == ["b" * 32]


def test_recent_is_the_newest_active_memories_of_a_project(db: Index) -> None:
    conn = db.connection()
    put(conn, *(memory(f"{n:032d}", f"note {n}", minutes=n) for n in range(5)))
    put(conn, memory("f" * 32, "old and gone", minutes=99, status="deprecated"))
    assert [r.memory.content for r in index.recent(conn, "shop", 2)] == ["note 4", "note 3"]


def test_project_memories_come_by_layer_then_importance(db: Index) -> None:
    conn = db.connection()
    put(
        conn,
        memory("a" * 32, "knowledge", layer=2, importance=5),
        memory("b" * 32, "convention", layer=1),
        memory("c" * 32, "identity", layer=0),
        memory("d" * 32, "archive", layer=3),
    )
    rows = index.project_memories(conn, "shop", 10)
    assert [r.memory.content for r in rows] == ["identity", "convention", "knowledge"]


def test_around_gives_a_timeline_its_two_halves(db: Index) -> None:
    conn = db.connection()
    put(conn, *(memory(f"{n:032d}", f"note {n}", minutes=n) for n in range(7)))
    center = index.get(conn, f"{3:032d}")
    assert center is not None
    stamp = center.memory.created.isoformat().replace("+00:00", "Z")
    before, after = index.around(conn, "shop", stamp, center.memory.id, 2)
    assert [r.memory.content for r in before] == ["note 2", "note 1"]
    assert [r.memory.content for r in after] == ["note 4", "note 5"]


def test_the_memory_before_in_a_session_is_the_last_active_one_saved_earlier(db: Index) -> None:
    conn = db.connection()
    put(
        conn,
        memory("a" * 32, "what database do we use", session="s", minutes=0),
        memory("b" * 32, "a deprecated aside", session="s", minutes=1, status="deprecated"),
        memory("c" * 32, "Postgres, since 2021", session="s", minutes=2),
        memory("d" * 32, "unrelated", session="t", minutes=3),
    )
    before = index.before_in_session(conn, ["a" * 32, "c" * 32, "d" * 32])
    assert set(before) == {"c" * 32}
    assert "databas" in before["c" * 32]


def test_files_and_stats_are_what_reconcile_compares(db: Index) -> None:
    conn = db.connection()
    put(conn, memory("a" * 32, "one"))
    index.set_file_stat(conn, f"{'a' * 32}.md", 42, 99)
    assert index.files(conn) == {f"{'a' * 32}.md": (42, 99)}
    assert index.file_record(conn, f"{'a' * 32}.md") == ("a" * 32, "h-" + "a" * 32)
    assert index.other_file_with_id(conn, "a" * 32, "elsewhere.md") == f"{'a' * 32}.md"


def test_counts_by_layer_and_scope(db: Index) -> None:
    conn = db.connection()
    put(
        conn,
        memory("a" * 32, "one", layer=1),
        memory("b" * 32, "two", layer=1),
        memory("c" * 32, "three", project="global"),
        memory("d" * 32, "four", status="deprecated"),
    )
    assert sorted(index.layer_counts(conn, "shop")) == [
        ("shop", 1, "active", 2),
        ("shop", 2, "deprecated", 1),
    ]
    assert index.scope_counts(conn, "shop") == (2, 3)


def test_edges_merge_by_the_stronger_score_and_keep_declared_ones(db: Index) -> None:
    conn = db.connection()
    index.add_edges(conn, [("a", "b", "related", 0.3), ("a", "b", "related", 0.6)])
    index.add_edges(conn, [("a", "c", "supersedes", 1.0)])
    assert index.edges_of(conn, "b") == [("a", "b", "related", 0.6)]
    assert index.edge_counts(conn) == {"related": 1, "supersedes": 1}
    index.remove_derived_edges(conn, "a")
    assert index.all_edges(conn) == [("a", "c", "supersedes", 1.0)]
    index.remove_all_edges(conn)
    assert index.all_edges(conn) == []


def test_broken_and_quarantined_files_are_recorded_and_cleared(db: Index) -> None:
    conn = db.connection()
    index.set_broken(conn, "bad.md", "no frontmatter", 1, 2)
    assert index.broken_files(conn) == {"bad.md": ("no frontmatter", 1, 2)}
    index.clear_broken(conn, "bad.md")
    assert index.broken_files(conn) == {}
    index.set_quarantined(conn, "q.md", "id", "reason", "h", 1, 2)
    index.clear_quarantined(conn, "q.md")
    assert index.quarantined_files(conn) == {}


def test_briefs_are_every_memory_oldest_first(db: Index) -> None:
    conn = db.connection()
    put(conn, memory("b" * 32, "second", minutes=1), memory("a" * 32, "first", minutes=0))
    assert [b.title for b in records.briefs(conn)] == ["first", "second"]


# -- analysis and retrieval -----------------------------------------------------------------------


def test_the_tokenizer_stems_folds_and_keeps_order(db: Index) -> None:
    assert terms.analyze(db.connection(), "Déploying the Caches") == ["deploi", "the", "cach"]


def test_stopwords_weigh_nothing(db: Index) -> None:
    conn = db.connection()
    put(conn, memory("a" * 32, "the cache does expire"))
    weights = terms.weights(conn, ["the", "cach"])
    assert weights["the"] == 0.0 and weights["cach"] > 0.0


def test_search_finds_in_scope_and_abstains_on_nonsense(db: Index) -> None:
    conn = db.connection()
    put(
        conn,
        memory("a" * 32, "Redis caches the sessions for thirty minutes"),
        memory("b" * 32, "Redis caches sessions in the archive", layer=3),
        memory("c" * 32, "Redis caches sessions of the old app", status="deprecated"),
        memory("d" * 32, "Redis caches sessions elsewhere", project="other"),
        memory("e" * 32, "CSS grid layout quirks"),
    )
    words = ["redis", "caches", "sessions"]
    slice_scope = retrieval.search(conn, words, projects=["shop"], max_layer=2)
    assert [s.memory.id for s in slice_scope] == ["a" * 32]
    everything = retrieval.search(conn, words, include_deprecated=True)
    assert {s.memory.id for s in everything} == {c * 32 for c in "abcd"}
    assert retrieval.search(conn, ["xyzzy", "plugh"]) == []
    assert retrieval.search(conn, []) == []


def test_similar_finds_near_duplicates_but_never_the_memory_itself(db: Index) -> None:
    conn = db.connection()
    put(
        conn,
        memory("a" * 32, "The billing service retries failed charges three times"),
        memory("b" * 32, "Billing retries failed charges up to three times"),
        memory("c" * 32, "Frontend uses React"),
        *(memory(f"{n:032d}", f"filler note {n} about layout") for n in range(8)),
    )
    words = ["billing", "service", "retries", "failed", "charges", "three", "times"]
    rows = retrieval.similar(conn, words, limit=5, exclude=("a" * 32,))
    assert [r.memory.id for r in rows] == ["b" * 32]
    assert rows[0].file == f"{'b' * 32}.md"
