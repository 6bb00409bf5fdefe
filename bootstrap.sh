#!/bin/sh
# memem bootstrap: every entry point (CLI, demo, tests; later hooks, MCP server, daemon) goes
# through here. It checks Python >= 3.11, keeps a virtual environment OUTSIDE the plugin
# directory, installs the locked dependencies only when the lock changed (hash stamp), then
# execs the entry point with the venv's interpreter.
#
#   ./bootstrap.sh demo          seed a temporary vault with sample memories and search it
#   ./bootstrap.sh test [ARGS]   install the dev lock and run the whole test suite (pytest ARGS)
#   ./bootstrap.sh setup         only make sure the venv is ready
#   ./bootstrap.sh ARGS...       run the memem CLI (e.g. ./bootstrap.sh search "deploy")
#
# Environment: MEMEM_VENV (venv path; default $CLAUDE_PLUGIN_DATA/venv, else $MEMEM_DIR/venv,
# else ~/.memem/venv), MEMEM_PYTHON (interpreter to build the venv with).
set -eu

ROOT=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
DATA=${CLAUDE_PLUGIN_DATA:-${MEMEM_DIR:-${HOME:-/tmp}/.memem}}
VENV=${MEMEM_VENV:-$DATA/venv}

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
    # The stamp names the lock that was installed; a changed lock means a reinstall.
    cat "$ROOT/$1" | (sha256sum 2>/dev/null || shasum -a 256) | cut -d' ' -f1
}

ensure_venv() {
    lock=$1
    stamp_file=$VENV/.memem-stamp
    want="$lock $(lock_stamp "$lock")"
    if [ -x "$VENV/bin/python" ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want" ]; then
        return 0
    fi
    python=$(find_python) || die "Python >= 3.11 not found (set MEMEM_PYTHON to one)"
    mkdir -p "$(dirname "$VENV")"
    echo "memem: preparing the environment in $VENV (once per dependency change)..." >&2
    if command -v uv >/dev/null 2>&1; then
        [ -x "$VENV/bin/python" ] || uv venv --quiet --python "$python" "$VENV" >&2
        uv pip sync --quiet --python "$VENV/bin/python" "$ROOT/$lock" >&2
    else
        [ -x "$VENV/bin/python" ] || "$python" -m venv "$VENV" >&2
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            --require-hashes -r "$ROOT/$lock" >&2
    fi
    echo "$want" > "$stamp_file"
}

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

case "${1:-}" in
    test)
        shift
        ensure_venv requirements-dev.lock
        cd "$ROOT"
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    setup)
        ensure_venv requirements.lock
        ;;
    *)
        # The dev lock is a superset: a checkout that ran the tests keeps that venv.
        if [ -f "$VENV/.memem-stamp" ] && grep -q '^requirements-dev.lock ' "$VENV/.memem-stamp" \
            && [ "$(cat "$VENV/.memem-stamp")" = "requirements-dev.lock $(lock_stamp requirements-dev.lock)" ]; then
            :
        else
            ensure_venv requirements.lock
        fi
        exec "$VENV/bin/python" -m memem "$@"
        ;;
esac
