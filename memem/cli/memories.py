"""The CLI's memory commands: save, search, get, list, timeline, forget, import, quarantine,
graph, rebuild-index, reconcile and slice; each a thin call into the store."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

from memem.cli.output import Usage, layer_line, print_json, progress, read_stdin, short, show
from memem.core import fence

if TYPE_CHECKING:
    from memem.service.store import Store


def cmd_save(store: Store, args: argparse.Namespace) -> int:
    text = read_stdin() if args.text == "-" else args.text
    tags = [t for t in (args.tags or "").split(",") if t.strip()]
    project = args.project
    if project is None:
        # Inside a git repository: its project (the one its hooks recall); elsewhere global.
        where = store.project_of(os.getcwd())
        project = where.project if where.repository else None
    saved = store.add(
        text,
        title=args.title,
        project=project,
        tags=tags,
        layer=args.layer,
        importance=args.importance,
        situations=args.situation,
        private=args.private,
    )
    for kind in saved.redacted:
        print(f"redacted a secret ({kind})")
    for old, why in zip(saved.superseded, saved.reasons, strict=True):
        print(f"superseded {short(old)}: {why}")
    m = saved.memory
    if saved.outcome == "duplicate":
        print(f"already known (duplicate), L{m.layer} {m.project}: {m.id}")
    else:
        print(f"saved L{m.layer} {m.project}{' (private)' if m.private else ''}: {m.id}")
        if not saved.indexed:
            print(
                "the index could not be updated; it catches up at the next reconcile",
                file=sys.stderr,
            )
    return 0


def cmd_search(store: Store, args: argparse.Namespace) -> int:
    hits = store.search(
        args.query,
        project=args.project,
        limit=args.limit,
        include_deprecated=args.include_deprecated,
    )
    if args.json:
        print_json([h.to_dict() for h in hits])
        return 0
    if not hits:
        print("no memories match", file=sys.stderr)
    for h in hits:
        flag = "" if h.status == "active" else f" [{h.status}]"
        print(f"{short(h.id)}  L{h.layer}  {h.score:.3f}  {h.project}  {h.title}{flag}")
        print(f"          {h.snippet}")
    return 0


def cmd_get(store: Store, args: argparse.Namespace) -> int:
    memories = store.get_many(args.ids)
    if args.json:
        print_json([m.to_dict() for m in memories])
        return 0
    for n, m in enumerate(memories):
        if n:
            print("\n" + "-" * 60 + "\n")
        show(m)
    return 0


def cmd_list(store: Store, args: argparse.Namespace) -> int:
    listings = store.list(project=args.project, recent=args.recent)
    if args.json:
        print_json(
            [
                {
                    "project": p.project,
                    "active": p.active,
                    "deprecated": p.deprecated,
                    "archived": p.archived,
                    "layers": {f"L{k}": v for k, v in p.layers.items()},
                    "aliases": list(p.aliases),
                    "recent": [
                        {
                            "id": m.id,
                            "title": m.title,
                            "layer": m.layer,
                            "created": m.to_dict()["created"],
                        }
                        for m in p.recent
                    ],
                }
                for p in listings
            ]
        )
        return 0
    if not listings:
        print("no memories yet: add one with `memem save TEXT`", file=sys.stderr)
    from memem.core.fence import label, line  # memory-derived names on memem's own lines

    for p in listings:
        print(
            f"{label(p.project)}: {p.active} active ({layer_line(p.layers)}),"
            f" {p.deprecated} deprecated" + (f", {p.archived} archived" if p.archived else "")
        )
        for alias in p.aliases:
            print(f"  alias: {label(alias)} -> {label(p.project)}")
        for m in p.recent:
            print(f"  {short(m.id)}  L{m.layer}  {line(m.title)}")
    return 0


def cmd_timeline(store: Store, args: argparse.Namespace) -> int:
    thread = store.timeline(args.id, window=args.window)
    if args.json:
        print_json([{**m.to_dict(), "why": why} for m, why in thread])
        return 0
    from memem.core.fence import line

    for m, why in thread:
        marker = ">" if why == "this memory" else " "
        print(
            f"{marker} {m.created:%Y-%m-%d %H:%M}  {short(m.id)}  L{m.layer}  {line(m.title)}"
            f"  ({why})"
        )
    return 0


def cmd_forget(store: Store, args: argparse.Namespace) -> int:
    m = store.forget(args.id, reason=args.reason)
    print(f"deprecated (the file stays in the vault, out of recall): {m.id}")
    return 0


def cmd_import(store: Store, args: argparse.Namespace) -> int:
    report = store.import_path(args.path, project=args.project)
    for path, why in report.errors:
        print(f"skipped {path}: {why}", file=sys.stderr)
    for memory_id, why in report.quarantined:
        print(f"quarantined: {why} ({memory_id}; review it, then `memem quarantine release`)")
    print(
        f"imported {len(report.created)} memories, {len(report.duplicates)} already known, "
        f"{len(report.errors)} files skipped, {len(report.quarantined)} quarantined"
    )
    nothing = not (report.created or report.duplicates or report.quarantined)
    return 1 if report.errors and nothing else 0


def cmd_quarantine(store: Store, args: argparse.Namespace) -> int:
    if args.action == "release":
        if not args.id:
            raise Usage("quarantine release needs a memory id")
        released = store.release(args.id)
        print(f"released {released.id} ({released.file}): it is indexed and recalled from now on")
        return 0
    if args.id:
        raise Usage("quarantine list takes no id")
    store.reconcile()
    held = store.quarantined()
    if args.json:
        print_json([q.to_dict() for q in held])
        return 0
    if not held:
        print("nothing quarantined")
    for q in held:
        print(f"{q.id}  {fence.line(q.file)}: {fence.line(q.reason)}")
        print(f"    sha256 {q.hash[:16]}  {fence.line(q.excerpt)}")
    return 0


def cmd_graph(store: Store, args: argparse.Namespace) -> int:
    action = args.action
    if action == "rebuild":
        counts = store.graph_rebuild()
        print(f"graph rebuilt: {sum(counts.values())} edges " + json.dumps(counts))
        return 0
    store.reconcile()
    if action == "stats":
        stats = store.graph_stats()
        if args.json:
            print_json(stats)
        else:
            for key, value in stats.items():
                print(f"{key}: {value}")
        return 0
    if action == "audit":
        a = store.graph_audit()
        result = {
            "orphans": list(a.orphans),
            "dead_links": [{"memory": m, "missing": r} for m, r in a.dead_links],
            "hubs": [{"memory": m, "degree": d} for m, d in a.hubs],
            "stale_edges": [{"src": e.src, "dst": e.dst, "type": e.type} for e in a.stale_edges],
            "edge_counts": dict(a.edge_counts),
        }
        if args.json:
            print_json(result)
        else:
            print(
                f"orphans: {len(a.orphans)}  dead links: {len(a.dead_links)}  "
                f"hubs: {len(a.hubs)}  stale edges: {len(a.stale_edges)}"
            )
            for m, r in a.dead_links[:20]:
                print(f"  dead link {short(m)} -> {r}")
            for e in a.stale_edges[:20]:
                print(f"  stale {e.type} {short(e.src)} -> {short(e.dst)}")
        return 0
    if not args.id:
        raise Usage("graph neighbors needs a memory id")
    neighbors = store.neighbors(args.id, limit=args.limit)
    if args.json:
        print_json(
            [
                {
                    "id": n.memory.id,
                    "title": n.memory.title,
                    "type": n.type,
                    "score": n.score,
                    "direction": n.direction,
                }
                for n in neighbors
            ]
        )
        return 0
    if not neighbors:
        print("no neighbours", file=sys.stderr)
    for n in neighbors:
        arrow = "->" if n.direction == "out" else "<-"
        print(f"{arrow} {n.type:<13} {n.score:.2f}  {short(n.memory.id)}  {n.memory.title}")
    return 0


def cmd_rebuild_index(store: Store, args: argparse.Namespace) -> int:
    print("rebuilding the index from the vault...", file=sys.stderr)
    shown = progress(sys.stderr)
    try:
        report = store.rebuild_index(shown)
    finally:
        if shown:
            shown.end()
    print(
        f"index rebuilt: {report.added} memories, {report.broken} broken files skipped, "
        f"{report.quarantined} quarantined"
    )
    shown = progress(sys.stderr)
    try:
        made = store.embed(shown, everything=args.vectors)
    finally:
        if shown:
            shown.end()
    semantic = store.semantic
    if semantic.ready:
        status = semantic.status()
        print(
            f"vectors: {made} made, {status['vectors']} of {status['memories']} memories have one"
        )
    else:
        print(f"vectors: none made: {semantic.reason}; recall is lexical")
    return 0


def cmd_reconcile(store: Store, args: argparse.Namespace) -> int:
    r = store.reconcile()
    print(
        f"added {r.added}, updated {r.updated}, removed {r.removed}, broken {r.broken}, "
        f"quarantined {r.quarantined}, unchanged {r.unchanged}"
    )
    return 0


def cmd_slice(store: Store, args: argparse.Namespace) -> int:
    built = store.slice(
        args.query,
        scope=args.scope,
        session_id=args.session_id,
        cwd=args.cwd or os.getcwd(),
        task_mode=args.task_mode,
        writeback_preview=args.writeback_preview,
        auto_commit_safe=args.auto_commit_safe,
    )
    if args.json:
        print_json(built.to_dict())
        return 0
    if built.abstained:
        print(f"(no slice: {built.reason})", file=sys.stderr)
    else:
        print(built.markdown)
    # After the fence: every memory-derived string here is neutralised like the slice's body.
    from memem.core.fence import label, line

    for delta in built.deltas:
        mark = "safe" if delta.safe else "needs review"
        print(line(f"proposed {delta.kind} ({mark}): {delta.summary}", 400))
    for memory_id in built.applied:
        print(f"saved {label(memory_id)}")
    return 0
