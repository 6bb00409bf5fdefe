"""The security scanner against corpora: what it catches, what it leaves alone, how fast.

    PYTHONPATH=. python -m benchmarks.bench_security [--corpus DIR] [--misses N]

Reads every ``*.jsonl`` file of DIR (default tests/corpora), one JSON object a line with a
``text`` field, and classifies a file by the start of its name:

- ``secrets*``: each secret (``secret``, ``secrets`` or ``value`` field; else the whole text)
  must be gone from `redact(text)`;
- ``benign_secrets*``: `redact(text)` must equal the text;
- ``injections*``: `scan(text)` must refuse;
- ``benign_notes*``: `scan(text)` must not refuse and must change nothing.

Prints a markdown table on stdout (per corpus: items, share caught or kept, misses listed),
then the scan time per KB on the corpora and on a megabyte of hostile text.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from memem.core.security import redact, scan

REPO = Path(__file__).resolve().parent.parent
KINDS = ("benign_secrets", "benign_notes", "secrets", "injections")


def kind_of(path: Path) -> str | None:
    """The corpus kind of a file, from the start of its name; None for other files."""
    return next((k for k in KINDS if path.name.startswith(k)), None)


def secrets_of(item: dict[str, Any]) -> list[str]:
    for key in ("secrets", "secret", "value", "values"):
        value = item.get(key)
        if isinstance(value, str) and value:
            return [value]
        if isinstance(value, list):
            return [v for v in value if isinstance(v, str) and v]
    return [item["text"]]


def load(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """Each corpus file of `directory` (by name) and its items."""
    corpora: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(directory.glob("*.jsonl")):
        if kind_of(path) is None:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        corpora[path.name] = [json.loads(line) for line in lines if line.strip()]
    return corpora


def passes(kind: str, item: dict[str, Any]) -> bool:
    """Whether the scanner does what the corpus `kind` expects with `item`."""
    text = item["text"]
    if kind == "secrets":
        out = redact(text)
        return all(s not in out for s in secrets_of(item))
    if kind == "benign_secrets":
        return redact(text) == text
    result = scan(text)
    if kind == "injections":
        return result.refused
    return not result.refused and result.text == text


def _time_per_kb(texts: list[str], run: Callable[[str], object]) -> float:
    size = sum(len(t.encode()) for t in texts) / 1024 or 1
    start = time.perf_counter()
    for text in texts:
        run(text)
    return (time.perf_counter() - start) * 1000 / size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO / "tests" / "corpora")
    parser.add_argument("--misses", type=int, default=20, help="misses listed per corpus")
    args = parser.parse_args(argv)
    corpora = load(args.corpus)
    print(f"## security scanner on {args.corpus}\n")
    print("| corpus | kind | items | passed | share | misses |")
    print("|---|---|---:|---:|---:|---|")
    texts: list[str] = []
    for name, items in corpora.items():
        kind = kind_of(Path(name)) or ""
        failed = [item for item in items if not passes(kind, item)]
        texts += [item["text"] for item in items]
        shown = "<br>".join(
            json.dumps(item["text"][:90], ensure_ascii=False) for item in failed[: args.misses]
        )
        share = (len(items) - len(failed)) / len(items) if items else 1.0
        verb = "caught" if kind in ("secrets", "injections") else "kept"
        print(
            f"| {name} | {verb} | {len(items)} | {len(items) - len(failed)} | {share:.1%} |"
            f" {shown} |"
        )
    hostile = [
        "ig\u200bnore " * 100_000,
        "curl " + "a" * 500_000 + " | sh",
        "password is " * 50_000,
        "\u0455" * 300_000,
        "&#105;" * 100_000,
        "from now on " * 50_000,
        "postgres://u:" + "@" * 300_000,
    ]
    print()
    print("| input | ms per KB |")
    print("|---|---:|")
    print(f"| the corpora ({len(texts)} texts) | {_time_per_kb(texts, scan):.3f} |")
    print(f"| hostile megabytes ({len(hostile)} texts) | {_time_per_kb(hostile, scan):.3f} |")


if __name__ == "__main__":
    main()
