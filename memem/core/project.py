"""A project's name from its git repository: the remote that two clones, a worktree and a
teammate's checkout share, where the folder name differs between them.

Pure: the text of a repository's `.git/config` in, a name out (`memem.storage.workspace` reads
the file, bounded). The remote chosen is `upstream`, else `origin`, else the first one. The name
is the remote's path without scheme, host, credentials, port or `.git`, lowercased, its segments
joined by `-`: `git@github.com:Acme/Shop.git`, `https://u:t@github.com/acme/shop` and
`ssh://git@host:22/acme/shop.git` are all `acme-shop`. A remote that is a path on disk
(`/srv/git/shop.git`, `file:///srv/shop.git`, `../shop.git`) names the project after its last
segment (`shop`): the rest of a path says where a disk is mounted, not what the project is.
Callers pass the result through `normalize_project`.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

PREFERRED_REMOTES: Final = ("upstream", "origin")

# `[remote "name"]`: git's subsection names are quoted, with \" and \\ escaped.
_REMOTE_SECTION: Final = re.compile(r'\[\s*remote\s+"((?:[^"\\]|\\.)*)"\s*\]', re.IGNORECASE)
_URL_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://(.*)", re.DOTALL)
# scp-like `[user@]host:path` (git reads it so when the colon comes before any slash).
_SCP: Final = re.compile(r"(?:[^@/]*@)?[^:/]+:(.*)", re.DOTALL)


def remotes(config: str) -> dict[str, str]:
    """Each remote's first `url`, by remote name in the order the config lists them."""
    found: dict[str, str] = {}
    current: str | None = None
    for raw in config.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = _REMOTE_SECTION.match(line)
            current = re.sub(r"\\(.)", r"\1", section.group(1)) if section else None
            continue
        key, sep, value = line.partition("=")
        if current is None or not sep or key.strip().lower() != "url":
            continue
        url = _config_value(value)
        if url:
            found.setdefault(current, url)
    return found


def _config_value(text: str) -> str:
    """A config value as git reads it: quotes removed, escapes applied, comments dropped."""
    out: list[str] = []
    quoted = False
    chars = iter(text.strip())
    for char in chars:
        if char == '"':
            quoted = not quoted
        elif char == "\\":
            escaped = next(chars, "")
            out.append({"n": "\n", "t": "\t", "b": "\b"}.get(escaped, escaped))
        elif char in "#;" and not quoted:
            break
        else:
            out.append(char)
    return "".join(out).strip()


def remote_url(config: str) -> str | None:
    """The url of the remote a project is named after: `upstream`, else `origin`, else the
    first remote the config lists; None when it has none."""
    found = remotes(config)
    for name in PREFERRED_REMOTES:
        if name in found:
            return found[name]
    return next(iter(found.values()), None)


def name_from_remote(url: str) -> str | None:
    """The project name a remote url gives (see the module docstring), before
    `normalize_project`; None when the url names nothing."""
    text = url.strip()
    scheme = _URL_SCHEME.fullmatch(text)
    if scheme and scheme.group(1).lower() != "file":
        # The path after the authority (credentials, host and port), without query or fragment.
        path = scheme.group(2).partition("/")[2]
        return _joined(re.split(r"[?#]", path, maxsplit=1)[0])
    if scheme:  # file://[host]/path
        return _last(scheme.group(2))
    scp = _SCP.fullmatch(text)
    if scp and "/" not in text.split(":", 1)[0]:
        return _joined(scp.group(1))
    return _last(text)


def _segments(path: str) -> list[str]:
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if parts and parts[-1].lower().endswith(".git"):
        parts[-1] = parts[-1][: -len(".git")]
    return [p for p in parts if p]


def _joined(path: str) -> str | None:
    return "-".join(_segments(path)).lower() or None


def _last(path: str) -> str | None:
    parts = _segments(path)
    return parts[-1].lower() if parts else None
