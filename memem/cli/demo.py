"""`./bootstrap.sh demo`: a temporary vault seeded with sample memories, searched."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from memem.core.text import clip
from memem.errors import MememError

if TYPE_CHECKING:
    from memem.service.store import Store
    from memem.settings import Settings

SAMPLES: tuple[tuple[str, str, str], ...] = (
    (
        "shop",
        "The shop project is a Django 5 web store with a Postgres database and a Stripe checkout.",
        "identity",
    ),
    ("shop", "The API uses MySQL 8 for orders and sessions.", "db"),
    (
        "shop",
        "Always run `make migrate` before `make test`: the test database is created from migrations.",
        "testing",
    ),
    (
        "shop",
        "Stripe webhooks must be verified with the signing secret from settings.STRIPE_WEBHOOK_SECRET; unverified events are rejected with 400.",
        "payments",
    ),
    (
        "shop",
        "Deploys go through Fly.io: `fly deploy` from main, never from a feature branch.",
        "deploy",
    ),
    (
        "shop",
        "The flaky test test_checkout_timeout was caused by a real network call; it now uses the fake payment gateway.",
        "testing",
    ),
    ("shop", "Prefer function-based views; class-based views only for the admin.", "style"),
    (
        "memem",
        "memem stores each memory as a markdown file in an Obsidian vault; the SQLite index is derived and can be rebuilt.",
        "identity",
    ),
    (
        "memem",
        "Use uv instead of pip for installs in CI because it is about ten times faster.",
        "tooling",
    ),
    (
        "memem",
        "Never print to stdout in hooks or the MCP server: stdout is the protocol channel.",
        "hooks",
    ),
    (
        "memem",
        "The hook budget is 40 ms: the hook must not import the MCP SDK or parse the vault.",
        "performance",
    ),
    (
        "global",
        "The user prefers concise answers with code first and explanations after.",
        "preference",
    ),
    (
        "global",
        "On macOS, Homebrew Python lives in /opt/homebrew/bin; the system python3 is too old.",
        "environment",
    ),
)

QUERIES: tuple[str, ...] = (
    "Which database does the API use?",
    "how do we deploy the shop",
    "why are hooks not allowed to print",
    "test database setup before running tests",
    "what's the weather like in Lisbon tomorrow",
)


def run(settings: Settings, env: Mapping[str, str]) -> int:
    """The demo, in a temporary folder; mining uses the backend `settings` name (started in
    `env`), or the heuristic one when that cannot work."""
    from memem.service.store import Store

    with tempfile.TemporaryDirectory(prefix="memem-demo-") as tmp:
        root = Path(tmp)
        with Store.open(state_dir=root / "state", vault_dir=root / "vault") as demo:
            print(f"Demo vault: {demo.vault.memories_dir} (temporary)\n")
            for project, text, tag in SAMPLES:
                m = demo.save(text, project=project, tags=[tag])
                print(f"  saved {m.short_id} L{m.layer} {project:<6} {clip(m.title, 70)}")
            print("\nA newer fact contradicts an older one; the older is superseded:")
            saved = demo.add("The API uses Postgres 16, not MySQL.", project="shop", tags=["db"])
            for old, why in zip(saved.superseded, saved.reasons, strict=True):
                print(f"  {saved.memory.short_id} supersedes {old[:8]} ({why})")
            for query in QUERIES:
                print(f"\n$ memem search {query!r}")
                hits = demo.search(query, limit=3)
                if not hits:
                    print("  (nothing relevant: memem abstains)")
                for h in hits:
                    title = clip(h.title, 70)
                    print(f"  {h.id[:8]}  L{h.layer}  {h.score:.2f}  {h.project:<6}  {title}")
            mine_sample(demo, root, settings.evolve(state_dir=root / "state"), env)
            prompt = "should CI use pip or uv? and why do the checkout tests fail?"
            built = demo.slice(prompt, scope="shop")
            print(f"\nThe slice a hook would inject for {prompt!r}:\n")
            print(built.markdown or f"(none: {built.reason})")
            status = demo.status()
            print(
                f"\n{status.active} active and {status.deprecated} deprecated memories, "
                f"{status.edges} graph edges, index {status.index_bytes / 1024:.0f} KiB."
            )
    return 0


def mine_sample(store: Store, root: Path, settings: Settings, env: Mapping[str, str]) -> None:
    """Mine the bundled sample session (real Claude Code transcript format) with the backend
    the settings allow: the heuristic one when there is no API key or claude CLI."""
    from memem.mining.service import Mining

    mining = Mining(settings, env)
    try:
        miner = mining.miner(store)
    except MememError as exc:  # a misconfigured backend: the demo still shows the offline one
        print(f"\n(miner backend unavailable: {exc}; using the heuristic one)")
        miner = mining.miner(store, offline=True)
    sample = root / "session.jsonl"
    sample.write_bytes((Path(__file__).parent / "samples" / "session.jsonl").read_bytes())
    print(f"\nMining a sample Claude Code session with the {miner.backend.name} backend:")
    outcome = miner.mine(str(sample))
    mined = [m for p in store.list(recent=50) for m in p.recent if m.source_type == "mined"]
    for m in mined:
        print(f"  mined {m.short_id} L{m.layer} {m.project:<6} {clip(m.title, 70)}")
    print(f"  {outcome.memories} new memories, {outcome.duplicates} already known")
