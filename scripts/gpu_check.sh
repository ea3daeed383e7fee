#!/usr/bin/env bash
# The GPU checks of nllhint in one go, for a bare GPU machine: torch with CUDA preinstalled, maybe no
# IPython, rich or pytest, and no network. What the machine lacks is installed offline from the
# pure-Python wheels in .whl/ (filled beforehand, on a machine with network, by `gpu_check.sh fetch`).
# Then it runs the tests marked `cuda`, the two tests that once depended on other tests' state (beside
# the rest of their files), and the CUDA benchmark, and writes everything to one log:
# "$OUT/gpu_check.log" when OUT is set (the device tool sets it), else ./gpu_check.log.
#
#   bash scripts/gpu_check.sh fetch   # with network: download the wheels into .whl/ (git-ignored)
#   bash scripts/gpu_check.sh         # on the GPU machine: install offline, test, benchmark, log
#
# Environment: PYTHON (the interpreter that has torch; default: the first python3/python that imports
# it), TESTS_TIMEOUT / FILES_TIMEOUT / BENCH_TIMEOUT (seconds for the three steps, default 300 / 120 /
# 150: with the install, under the device tool's 600 s a command), BENCH_ARGS (extra benchmark
# arguments). Exit status: 0 when the tests passed, else the first failing step's status.
# With the device tool: run(command="bash scripts/gpu_check.sh", carry=[".whl"], timeout_s=590).
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEELS="$ROOT/.whl"
cd "$ROOT" || exit 2

fetch() {
    # Pure-Python wheels only, for every Python a GPU image may have. pip evaluates dependency markers
    # for the Python running it, so the 3.10-only backports are named explicitly.
    mkdir -p "$WHEELS"
    local py
    for py in 3.10 3.11 3.12 3.13; do
        python3 -m pip download -q -d "$WHEELS" --only-binary=:all: --platform any --implementation py \
            --python-version "$py" "ipython>=7.34,<10" "rich>=13" "pytest>=7" "executing>=1.2" \
            "setuptools>=68" wheel || return 1
    done
    python3 -m pip download -q -d "$WHEELS" --only-binary=:all: --platform any --implementation py \
        --python-version 3.10 --no-deps exceptiongroup tomli "typing_extensions>=4.6" || return 1
    ls "$WHEELS" | wc -l | xargs echo "wheels in .whl/:"
    du -sh "$WHEELS"
}

if [ "${1:-}" = "fetch" ]; then
    fetch
    exit $?
fi

LOG="${OUT:-$ROOT}/gpu_check.log"
mkdir -p "$(dirname "$LOG")"
STATUS=0
step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }
fail() { local rc=$1; shift; echo "FAILED ($rc): $*"; [ "$STATUS" -ne 0 ] || STATUS=$rc; }

main() {
step "machine"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    for candidate in python3 python; do
        if command -v "$candidate" >/dev/null && "$candidate" -c "import torch" 2>/dev/null; then
            PY="$(command -v "$candidate")"
            break
        fi
    done
fi
if [ -z "$PY" ]; then
    echo "no python with torch found (set PYTHON=...)"
    return 3
fi
command -v nvidia-smi >/dev/null && nvidia-smi -L
"$PY" - <<'EOF'
import platform, sys, torch
print("python", platform.python_version(), sys.executable)
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(0))
EOF
echo "checkout $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') $(git -C "$ROOT" status --short 2>/dev/null | wc -l) changed files"

step "install what is missing, offline from .whl/"
SITE="$(mktemp -d "${TMPDIR:-/tmp}/nllhint-site.XXXXXX")"
export PYTHONPATH="$ROOT:$SITE${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$SITE/bin:$PATH"
"$PY" -m pip --version >/dev/null 2>&1 || "$PY" -m ensurepip --default-pip >/dev/null 2>&1 || true
missing=()
# module to import -> requirement to install when the import fails (or the version is too old)
while read -r module requirement; do
    "$PY" - "$module" <<'EOF' >/dev/null 2>&1 || missing+=("$requirement")
import importlib, sys
module = importlib.import_module(sys.argv[1])
minimum = {"IPython": (7, 34), "rich": (13, 0), "pytest": (7, 0)}.get(sys.argv[1])
if minimum:
    version = tuple(int(p) for p in module.__version__.split(".")[:2])
    sys.exit(version < minimum)
EOF
done <<'EOF'
IPython ipython>=7.34,<10
rich rich>=13
pytest pytest>=7
executing executing>=1.2
EOF
if [ ${#missing[@]} -gt 0 ]; then
    if [ ! -d "$WHEELS" ]; then
        echo "missing ${missing[*]} and no .whl/ folder: run 'bash scripts/gpu_check.sh fetch' where there is network, and carry .whl"
        return 4
    fi
    echo "installing into $SITE: ${missing[*]}"
    "$PY" -m pip install -q --disable-pip-version-check --no-index --find-links "$WHEELS" --target "$SITE" \
        "${missing[@]}" || { fail $? "pip install ${missing[*]}"; return "$STATUS"; }
else
    echo "IPython, rich, pytest and executing are already there"
fi
# nllhint itself: the checkout comes first on PYTHONPATH; the install adds the console script
"$PY" -m pip install -q --disable-pip-version-check --no-index --find-links "$WHEELS" --no-deps \
    --target "$SITE/nllhint-install" "$ROOT" >/dev/null 2>&1 \
    && export PATH="$SITE/nllhint-install/bin:$PATH" && echo "nllhint installed (console script)" \
    || echo "nllhint not pip-installed (no setuptools wheel?): running it from the checkout on PYTHONPATH"
"$PY" - <<'EOF' || { fail $? "import check"; return "$STATUS"; }
import IPython, pytest, rich, nllhint
print("IPython", IPython.__version__, "pytest", pytest.__version__, "nllhint from", nllhint.__file__)
EOF

step "tests marked cuda (each device-side assert in its own IPython process)"
unset CUDA_LAUNCH_BLOCKING NLLHINT_DEBUG
# only the files that mark tests `cuda`: the others may need the test extra (hypothesis, nbclient, ...)
mapfile -t marked < <(grep -l "mark\.cuda" tests/test_*.py)
echo "files with cuda tests: ${marked[*]}"
timeout "${TESTS_TIMEOUT:-300}" "$PY" -m pytest -q -rs -p no:cacheprovider -m cuda "${marked[@]}" \
    || fail $? "tests marked cuda"

step "the two tests that failed beside others under xdist, with the rest of their files"
timeout "${FILES_TIMEOUT:-120}" "$PY" -m pytest -q -rs -p no:cacheprovider \
    tests/test_hints_device.py tests/test_losscheck_engine.py \
    || fail $? "test_hints_device.py + test_losscheck_engine.py"

step "CUDA benchmark: benchmarks/losscheck_overhead.py --device cuda"
if "$PY" benchmarks/losscheck_overhead.py --help 2>/dev/null | grep -q -- "--device"; then
    # shellcheck disable=SC2086
    timeout "${BENCH_TIMEOUT:-150}" "$PY" benchmarks/losscheck_overhead.py --device cuda ${BENCH_ARGS:-} \
        || echo "benchmark exited with $? (not counted as a test failure)"
else
    echo "skipped: benchmarks/losscheck_overhead.py has no --device option yet"
fi

step "done: status $STATUS, log $LOG"
rm -rf "$SITE"
return "$STATUS"
}

main 2>&1 | tee "$LOG"
exit "${PIPESTATUS[0]}"
