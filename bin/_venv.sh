# Sourced by bin/* scripts: make sure .venv exists and holds the project (and, with
# VSWAP_EXTRAS=test, the test tools). Re-installs only when pyproject.toml changed.
# pip's output goes to .venv/install.log and is shown only if the install fails, so a
# first run prints one line, not pages of build-backend chatter.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
extras="${VSWAP_EXTRAS:-}"
# VSWAP_COMPILED=1: run the mypyc-compiled model (python -m vswap.compile), which needs mypy:
# the test tools have it, else the compile extra.
compiled="${VSWAP_COMPILED:-0}"
[ "$compiled" = 1 ] && [ -z "$extras" ] && extras=compile
stamp="$venv/.installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
    echo "vswap: installing into $venv${extras:+ (with the $extras tools)}; the first time takes about a minute" >&2
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    log="$venv/install.log"
    spec="$root"
    [ -n "$extras" ] && spec="$root[$extras]"
    if ! { "$venv/bin/python" -m pip install --quiet --upgrade pip &&
           "$venv/bin/python" -m pip install --quiet -e "$spec"; } >"$log" 2>&1; then
        cat "$log" >&2
        echo "vswap: installing into $venv failed (the output above is in $log)" >&2
        exit 1
    fi
    touch "$stamp"
fi
export PATH="$venv/bin:$PATH"
if [ "$compiled" = 1 ]; then
    # Builds (some minutes) only when the sources changed since the last build; a failed
    # build stops here rather than running the plain-Python model unasked.
    "$venv/bin/python" -m vswap.compile --out "$venv/compiled" >/dev/null
    export PYTHONPATH="$venv/compiled${PYTHONPATH:+:$PYTHONPATH}"
fi
