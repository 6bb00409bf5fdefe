"""A synthetic vault of coding memories, deterministic for a seed.

    from benchmarks import synth
    for memory in synth.generate(1000):           # Iterator[memem.core.memory.Memory]
        ...
    synth.write_vault(Path("/tmp/bench-vault"), 10_000)
    qs = synth.queries()                          # ~200 realistic search strings

Memories are built from templates x vocabulary (`benchmarks.vocab`). Projects get Zipf-like
shares; inside a project, files, functions, tests and classes come from pools that grow by
preferential attachment (a Yule process), so a few recur in many memories and most appear
once or twice: term statistics look like a real vault's, with a common head and a long tail.

Generation is a stream: the first k memories of `generate(n, seed)` are the same for every
n >= k, which is what makes `queries` answerable at every vault size.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from benchmarks import vocab
from memem.core import markdown
from memem.core.memory import GLOBAL_PROJECT, Memory, slugify

GENERATOR_VERSION: Final = 2  # bump when output changes, so cached vaults are regenerated
START: Final = datetime(2023, 6, 1, tzinfo=UTC)
SPAN: Final = timedelta(days=730)
GLOBAL_SHARE: Final = 0.12
MIN_CHARS: Final = 80
MAX_CHARS: Final = 1200
MEDIAN_CHARS: Final = 300
L0_PER_PROJECT: Final = 4
QUERY_WARMUP: Final = 1000
QUERY_COUNT: Final = 200

KINDS: Final = {
    # kind: (share in a project, share in "global")
    "decision": (14, 4),
    "convention": (13, 25),
    "bugfix": (20, 0),
    "preference": (5, 30),
    "workaround": (10, 8),
    "environment": (10, 15),
    "failure": (10, 4),
    "quirk": (12, 14),
    "archival": (5, 0),
}
KIND_TAGS: Final = {
    "decision": "decision",
    "convention": "convention",
    "bugfix": "bug",
    "preference": "preference",
    "workaround": "workaround",
    "environment": "environment",
    "failure": "flaky",
    "quirk": "gotcha",
    "identity": "architecture",
    "archival": "historical",
}
_SLOT: Final = re.compile(r"\{(\w+)\}")
_TRAILING_DIGITS: Final = re.compile(r"\d+$")


class Zipf:
    """Sample a sequence with weight 1 / rank**s: the head is common, the tail rare."""

    def __init__(self, items: Sequence[str], s: float = 1.05) -> None:
        self.items = list(items)
        self.cum = list(itertools.accumulate(1.0 / (r**s) for r in range(1, len(items) + 1)))

    def __call__(self, rng: random.Random) -> str:
        at = bisect.bisect_left(self.cum, rng.random() * self.cum[-1])
        return self.items[min(at, len(self.items) - 1)]


class Pool:
    """Values that recur by preferential attachment: a new one with probability `fresh`, else
    an old one chosen in proportion to how often it has been used."""

    def __init__(self, fresh: float = 0.3) -> None:
        self.fresh = fresh
        self.history: list[str] = []

    def draw(self, rng: random.Random, make: Callable[[], str]) -> str:
        if not self.history or rng.random() < self.fresh:
            value = make()
        else:
            value = rng.choice(self.history)
        self.history.append(value)
        return value


def _camel(words: Sequence[str]) -> str:
    return "".join(w[:1].upper() + w[1:] for w in words)


def _snake(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _short_error(err: str) -> str:
    head = err.split(":", 1)[0].strip()
    if ":" in err and 3 <= len(head) <= 40 and " " not in head.strip("'\""):
        return head
    return " ".join(err.split()[:6]).rstrip(",.")


class _Project:
    """Per-project generator state: samplers and the pools of recurring names."""

    def __init__(self, profile: vocab.Profile) -> None:
        self.profile = profile
        self.stack = Zipf(profile.stack)
        self.nouns = Zipf(profile.nouns, s=0.9)
        self.services = Zipf(profile.services)
        self.paths = Pool(0.35)
        self.funcs = Pool(0.35)
        self.tests = Pool(0.4)
        self.classes = Pool(0.3)
        self.recent: list[str] = []  # ids, for `related`
        self.session = ""
        self.l0 = 0


class _Slots(dict[str, str]):
    """Template values for one memory, drawn on first use and then kept: a memory that names
    `{lib}` twice names the same library twice."""

    def __init__(self, gen: Generator, project: _Project) -> None:
        super().__init__()
        self.gen = gen
        self.project = project

    def __missing__(self, key: str) -> str:
        value = self.gen.slot(self, key)
        self[key] = value
        return value

    def fill(self, template: str) -> str:
        return template.format_map(self)


class Generator:
    """The stateful stream behind `generate` and `queries`."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.projects = [_Project(p) for p in vocab.PROFILES]
        self.project_pick = list(
            itertools.accumulate(1.0 / k for k in range(1, len(self.projects) + 1))
        )
        self.common_libs = Zipf(vocab.COMMON_LIBS)
        self.concerns = Zipf(vocab.CONCERNS, s=0.8)
        self.env_vars = Zipf(vocab.ENV_VARS)
        self.external = Zipf(vocab.EXTERNAL_SERVICES)
        self.versions: dict[str, str] = {}
        self.errors = {k: Zipf(v, s=0.9) for k, v in vocab.ERRORS.items()}
        self.commands = {k: Zipf(v, s=0.9) for k, v in vocab.COMMANDS.items()}
        self.lists: dict[str, Zipf] = {
            name: Zipf(items, s=0.7)
            for name, items in {
                "practice": vocab.PRACTICES,
                "antipractice": vocab.ANTIPRACTICES,
                "pref": vocab.PREFERENCES,
                "symptom": vocab.SYMPTOMS,
                "cond": vocab.CONDITIONS,
                "reason": vocab.REASONS,
                "quirk": vocab.QUIRKS,
                "cause": vocab.CAUSES,
                "fix": vocab.FIXES,
                "fixpast": vocab.FIXES_PAST,
                "platform": vocab.PLATFORMS,
                "logsink": vocab.LOG_SINKS,
                "person": vocab.PERSONS,
                "team": vocab.TEAMS,
                "flag": vocab.FLAGS,
                "host": vocab.HOSTS,
                "code": vocab.HTTP_CODES,
                "verb": vocab.VERBS,
                "gnoun": vocab.GENERIC_NOUNS,
            }.items()
        }
        self.details = Zipf(vocab.DETAILS, s=0.5)
        self.count = 0

    # -- values ---------------------------------------------------------------------------

    def version(self, lib: str) -> str:
        if lib not in self.versions:
            majors = vocab.VERSION_MAJORS.get(lib)
            major = self.rng.choice(majors) if majors else self.rng.choice((0, 1, 1, 2, 3, 4, 5))
            minor = self.rng.randrange(0, 30 if major in (0, 1) else 12)
            self.versions[lib] = f"{major}.{minor}.{self.rng.randrange(0, 10)}"
        canonical = self.versions[lib]
        if self.rng.random() < 0.3:  # a neighbouring release: upgrades, pins, old branches
            head, tail, _ = canonical.split(".")
            near = max(0, int(tail) + self.rng.choice((-2, -1, 1)))
            return f"{head}.{near}.{self.rng.randrange(10)}"
        return canonical

    def noun(self, project: _Project) -> str:
        rng = self.rng
        return project.nouns(rng) if rng.random() < 0.8 else self.lists["gnoun"](rng)

    def name_parts(self, project: _Project) -> list[str]:
        verb = self.lists["verb"](self.rng)
        return [verb, *self.noun(project).split()]

    def new_path(self, project: _Project) -> str:
        rng = self.rng
        eco = project.profile.eco
        parts = [*self.noun(project).split(), *rng.sample(vocab.GENERIC_NOUNS, rng.randrange(0, 2))]
        template = rng.choice(vocab.PATH_ROOTS[eco])
        return template.format(
            package=project.profile.package,
            sub=_snake(self.noun(project)),
            name=_snake(" ".join(parts)),
            Name=_camel(parts),
            service=project.services(rng),
            num=f"{rng.randrange(1, 400):04d}",
        )

    def new_func(self, project: _Project) -> str:
        parts = self.name_parts(project)
        if project.profile.eco in ("ts", "go"):
            return parts[0] + _camel(parts[1:])
        return "_".join(parts)

    def new_test(self, project: _Project) -> str:
        rng = self.rng
        parts = self.name_parts(project)
        tail = rng.choice(
            (
                "",
                "_when_empty",
                "_with_retry",
                "_rejects_invalid",
                "_is_idempotent",
                "_handles_timeout",
                "_in_utc",
                "_for_admin",
            )
        )
        eco = project.profile.eco
        if eco == "go":
            return "Test" + _camel(parts) + _camel(tail.split("_"))
        if eco == "ts":
            return f"`{_camel(parts[1:])}.test.ts > {' '.join(parts)}{tail.replace('_', ' ')}`"
        return "test_" + "_".join(parts) + tail

    def new_class(self, project: _Project) -> str:
        suffix = self.rng.choice(
            (
                "Service",
                "Repository",
                "Client",
                "Serializer",
                "Handler",
                "Schema",
                "Form",
                "Job",
                "Manager",
                "Builder",
                "Error",
            )
        )
        return _camel(self.noun(project).split()) + suffix

    def slot(self, s: _Slots, key: str) -> str:
        """The value for `{key}` in a template filled for one memory."""
        rng, p = self.rng, s.project
        prof = p.profile
        if key == "ms2":  # the "after" figure of a before/after pair: smaller
            return str(rng.randrange(8, 120))
        base = _TRAILING_DIGITS.sub("", key)
        if base != key:  # {lib2}, {ver2}, {ms2}, {port2}: another value of the same kind
            for _ in range(6):
                value = self.slot(s, base)
                if value != s.get(base):
                    break
            return value
        if key == "lib":
            return p.stack(rng) if rng.random() < 0.65 else self.common_libs(rng)
        if key == "libv":
            return f"{s['lib']} {self.version(s['lib'])}"
        if key == "ver":
            return self.version(s["lib"])
        if key == "project":
            return prof.name
        if key == "package":
            return prof.package
        if key in ("service", "svc"):
            return p.services(rng)
        if key == "svcext":
            return self.external(rng)
        if key == "concern":
            return self.concerns(rng)
        if key in ("noun",):
            return self.noun(p)
        if key == "path":
            return p.paths.draw(rng, lambda: self.new_path(p))
        if key == "dir":
            return s["path"].rsplit("/", 1)[0] + "/" if "/" in s["path"] else "./"
        if key == "func":
            return p.funcs.draw(rng, lambda: self.new_func(p))
        if key == "test":
            return p.tests.draw(rng, lambda: self.new_test(p))
        if key == "cls":
            return p.classes.draw(rng, lambda: self.new_class(p))
        if key == "module":
            if prof.eco == "python":
                return f"{prof.package}.{_snake(self.noun(p))}"
            return f"lib/{_snake(self.noun(p))}"
        if key == "field":
            return _snake(self.noun(p)) + rng.choice(("_id", "_at", "", "_count", "_status"))
        if key == "table":
            return _snake(self.noun(p)) + "s"
        if key == "fixture":
            return _snake(self.noun(p)) + rng.choice(("_factory", "_client", "_db", ""))
        if key == "err":
            eco = prof.eco if rng.random() < 0.75 else "any"
            return s.fill(self.errors[eco](rng))
        if key == "errshort":
            return _short_error(s["err"])
        if key == "cmd":
            eco = prof.eco if rng.random() < 0.8 else "any"
            return s.fill(self.commands[eco](rng))
        if key == "env":
            return self.env_vars(rng)
        if key == "db":
            for lib, label in (
                ("postgres", "Postgres"),
                ("mysql", "MySQL"),
                ("snowflake", "Snowflake"),
                ("sqlite", "SQLite"),
            ):
                if lib in prof.stack:
                    return f"{label} {self.version(lib).rsplit('.', 1)[0]}"
            return rng.choice(("Postgres 15", "DynamoDB", "Redis 7", "MongoDB 6"))
        if key == "quirkshort":
            return " ".join(s["quirk"].replace("`", "").split(",")[0].split()[:6])
        if key == "symptomshort":
            return " ".join(s["symptom"].split()[:3])
        if key == "description":
            return prof.description
        if key == "services":
            return ", ".join(prof.services)
        if key == "stacklist":
            return ", ".join(f"{lib} {self.version(lib)}" for lib in prof.stack[:5])
        if key == "month":
            return rng.choice(vocab.MONTHS)
        if key == "year":
            return str(rng.choice((2023, 2024, 2024, 2025)))
        if key == "day":
            return str(rng.randrange(1, 29))
        if key == "pr":
            return str(int(10 ** rng.uniform(2, 4)))
        if key == "ticket":
            return f"{prof.package.upper()[:4]}-{int(10 ** rng.uniform(1.5, 3.7))}"
        if key == "num":
            return str(rng.choice((20, 50, 100, 200, 500, 1000, 5000, 10000, 3, 5, 7)))
        if key == "small":
            return str(rng.randrange(2, 10))
        if key == "ms":
            return str(rng.randrange(120, 4000))
        if key == "pct":
            return str(rng.randrange(5, 80))
        if key == "port":
            return str(rng.choice((3000, 5432, 6379, 8000, 8080, 9200, 5672, 4000, 5173)))
        if key in self.lists:
            return s.fill(self.lists[key](rng))
        raise KeyError(key)

    # -- memories -------------------------------------------------------------------------

    def pick_project(self) -> _Project | None:
        rng = self.rng
        if rng.random() < GLOBAL_SHARE:
            return None
        at = bisect.bisect_left(self.project_pick, rng.random() * self.project_pick[-1])
        return self.projects[min(at, len(self.projects) - 1)]

    def pick_kind(self, project: _Project | None) -> str:
        rng = self.rng
        if project is not None and project.l0 < L0_PER_PROJECT and rng.random() < 0.03:
            project.l0 += 1
            return "identity"
        column = 1 if project is None else 0
        kinds = list(KINDS)
        return rng.choices(kinds, weights=[KINDS[k][column] for k in kinds])[0]

    def body(self, s: _Slots, kind: str) -> str:
        rng = self.rng
        target = min(
            MAX_CHARS, max(MIN_CHARS, int(rng.lognormvariate(math.log(MEDIAN_CHARS), 0.55)))
        )
        parts = [s.fill(rng.choice(vocab.LEADS[kind]))]
        used: set[str] = set()
        length = len(parts[0])
        while length < target:
            roll = rng.random()
            if roll < 0.08 and "```" not in "".join(parts):
                sentence = f"\n\n```\n{s['cmd']}\n```\n\n"
            elif roll < 0.2:
                other = rng.choice(("bugfix", "quirk", "decision", "failure", "workaround"))
                sentence = s.fill(rng.choice(vocab.LEADS[other]))
            else:
                template = self.details(rng)
                if template in used:
                    template = rng.choice(vocab.DETAILS)
                used.add(template)
                sentence = s.fill(template)
            if rng.random() < 0.15:
                sentence = "\n\n" + sentence
            parts.append(sentence)
            length += len(sentence) + 1
        text = parts[0]
        for part in parts[1:]:
            if len(text) + len(part) + 1 > MAX_CHARS and len(text) >= MIN_CHARS:
                break
            text += part if part.startswith("\n") or text.endswith("\n") else " " + part
        return re.sub(r"\n{3,}", "\n\n", text.strip())[:MAX_CHARS]

    def memory(self) -> Memory:
        rng = self.rng
        project = self.pick_project()
        home = project or rng.choice(self.projects)
        kind = self.pick_kind(project)
        s = _Slots(self, home)
        content = self.body(s, kind)
        title = s.fill(rng.choice(vocab.TITLES[kind]))
        title = title[:1].upper() + title[1:]
        layer = {"identity": 0, "convention": 1, "preference": 1, "archival": 3}.get(kind, 2)
        if layer == 2 and rng.random() < 0.08:
            layer = 1
        if layer in (1, 2) and rng.random() < 0.03:
            layer = 3
        importance = {0: 5, 1: rng.choice((3, 4, 4)), 2: rng.choice((2, 3, 3, 3, 4)), 3: 1}[layer]
        tags = [KIND_TAGS[kind]]
        for key in ("lib", "concern", "noun"):
            if key in s and rng.random() < 0.6:
                tags.append(slugify(s[key], max_len=30))
        created = START + timedelta(seconds=rng.randrange(int(SPAN.total_seconds())))
        updated = created
        if rng.random() < 0.2:
            updated = min(created + timedelta(hours=rng.randrange(1, 24 * 60)), START + SPAN)
        source_type = rng.choices(("mined", "user", "import"), weights=(70, 25, 5))[0]
        session: str | None = None
        if source_type == "mined":
            if not home.session or rng.random() < 0.3:
                home.session = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            session = home.session
        status, valid_to = "active", None
        if rng.random() < 0.03:
            status, valid_to = "deprecated", updated
        memory_id = f"{rng.getrandbits(128):032x}"
        related: tuple[str, ...] = ()
        if home.recent and rng.random() < 0.15:
            related = tuple(rng.sample(home.recent, min(len(home.recent), rng.randrange(1, 4))))
        home.recent.append(memory_id)
        if len(home.recent) > 200:
            del home.recent[:100]
        extra = {"aliases": [title[:40]]} if rng.random() < 0.01 else {}
        self.count += 1
        return Memory(
            id=memory_id,
            title=title,
            content=content,
            created=created,
            updated=updated,
            project=project.profile.name if project else GLOBAL_PROJECT,
            tags=tuple(tags),
            layer=layer,
            importance=importance,
            status=status,
            source_type=source_type,
            source_session=session,
            valid_to=valid_to,
            related=related,
            extra=extra,
        )

    # -- queries --------------------------------------------------------------------------

    def query(self, rng: random.Random) -> str:
        roll = rng.random()
        if roll < 0.05:
            return rng.choice(vocab.OFF_TOPIC)
        project = self.pick_project() or rng.choice(self.projects)
        s = _Slots(self, project)
        if roll < 0.5:
            template = rng.choice(vocab.QUESTIONS)
        elif roll < 0.8:
            template = rng.choice(vocab.KEYWORDS)
        else:
            template = rng.choice(vocab.PROMPTS)
        return " ".join(s.fill(template).replace("`", "").split())


def generate(n: int, seed: int = 7) -> Iterator[Memory]:
    """`n` synthetic memories; the same seed always gives the same memories."""
    gen = Generator(seed)
    for _ in range(n):
        yield gen.memory()


def following(n: int, count: int, seed: int = 7) -> list[Memory]:
    """The `count` memories that come after the first `n` of `generate(n + count, seed)`: new
    memories a vault of `n` has not seen yet, in the same projects and vocabulary."""
    return list(itertools.islice(generate(n + count, seed), n, None))


def write_vault(
    vault_dir: Path, n: int, seed: int = 7, *, progress: Callable[[int], None] | None = None
) -> int:
    """Render `n` memories into `<vault_dir>/memem/memories/`; returns the bytes written.
    `progress`, if given, is called with the count every 10,000 files.

    Plain writes, not memem's atomic ones: this is the fast way to make 100k files."""
    memories_dir = vault_dir / "memem" / "memories"
    memories_dir.mkdir(parents=True, exist_ok=True)
    (vault_dir / "memem" / "playbooks").mkdir(parents=True, exist_ok=True)
    stems: dict[str, str] = {}
    written = 0
    for count, memory in enumerate(generate(n, seed), start=1):
        name = memory.filename
        stems[memory.id] = name.removesuffix(".md")
        data = markdown.render(memory, stems).encode("utf-8")
        (memories_dir / name).write_bytes(data)
        written += len(data)
        if progress is not None and count % 10_000 == 0:
            progress(count)
    return written


def queries(seed: int = 7, count: int = QUERY_COUNT) -> list[str]:
    """~200 search strings (questions, keywords, task prompts, a few off-topic), drawn from the
    same vocabulary and name pools as the first memories of `generate(n, seed)`."""
    gen = Generator(seed)
    for _ in range(QUERY_WARMUP):
        gen.memory()
    rng = random.Random(seed * 7919 + 1)
    seen: dict[str, None] = {}
    while len(seen) < count:
        seen.setdefault(gen.query(rng), None)
    return list(seen)


if __name__ == "__main__":
    for m in generate(5):
        print(markdown.render(m))
    for q in queries()[:20]:
        print(q)
