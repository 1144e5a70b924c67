#!/usr/bin/env bash
# Set up the course in a virtual environment (.venv) and run it.
#
#   bash grader/course.sh [ARGS]          the student's view: `mgcourse check` on
#                                         micrograd_skeleton/ (extra arguments go to it)
#   bash grader/course.sh test            the course's own test suite (maintainers, CI)
#
# Both install what they need: the Python packages into .venv (again only when
# pyproject.toml changes), and graphviz's `dot` program through apt-get when it is
# missing and this is root on Debian or Ubuntu; otherwise they say how to install it.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=check
if [ "${1:-}" = test ]; then
    mode=test
    shift
    if [ ! -d tests ]; then
        echo "The course's own test suite (tests/) is for its maintainers and is not part of this copy." >&2
        echo "To check your work, run: bash grader/course.sh" >&2
        exit 1
    fi
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] < (3, 14)))' 2>/dev/null; then
    echo "The course needs Python 3.10 to 3.13; '$python' is $("$python" --version 2>&1 || echo missing)." >&2
    echo "Run with PYTHON=/path/to/python3.X bash grader/course.sh" >&2
    exit 1
fi

# Each step says what it does and how long it took; a long one shows signs of life.
clock() { if [ -n "${EPOCHREALTIME:-}" ]; then echo "${EPOCHREALTIME/[.,]/}"; else echo "$(date +%s)000000"; fi; }
step_start=0
begin() { echo "==> $1 ..."; step_start=$(clock); }
took() { local us=$(( $(clock) - step_start )); printf '    done in %d.%d s\n' $((us / 1000000)) $((us % 1000000 / 100000)); }
# wait_for PID LOG: wait for a background command, printing every 10 s how long it has run and
# the last line of its log, so that a minute of installing never looks like a hang.
wait_for() {
    local pid=$1 log=$2 waited=0 line
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        waited=$((waited + 1))
        if [ $((waited % 10)) -eq 0 ]; then
            line=$(tail -n 1 "$log" 2>/dev/null | tr -d '\r' | cut -c 1-70)
            echo "    ... ${waited} s${line:+: $line}"
        fi
    done
    wait "$pid"
}

venv=.venv
if [ ! -x "$venv/bin/python" ]; then
    begin "Creating the virtual environment $venv"
    "$python" -m venv "$venv"
    took
fi

# What each mode installs: the student needs the package; the test suite needs the test tools
# and PyTorch (the second gradient oracle), pinned in pyproject.toml.
if [ "$mode" = test ]; then extras="[dev,torch]"; else extras="[notebooks]"; fi
stamp="$venv/.installed-$(cat pyproject.toml | "$venv/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])')$extras-compiled"
# uv (from PyPI) installs the same packages several times faster than pip; pip stays the
# fallback, and always installs PyTorch, because pip is what finds a CPU build of it where
# the machine provides one (uv would fetch the CUDA build, gigabytes).
# --compile-bytecode: uv, unlike pip, leaves the packages uncompiled, and where
# PYTHONDONTWRITEBYTECODE is set (as on this course's CI machines) every process then compiles
# every module it imports, every time: importing matplotlib cost 1.15 s instead of 0.43 s, a
# correct student's nbgrader autograde 24.8 s of CPU instead of 15.3 s.
install() {
    local deps="$1" uv="$venv/bin/uv"
    if [ "${MGCOURSE_INSTALLER:-uv}" = uv ] && { [ -x "$uv" ] || "$venv/bin/python" -m pip install uv; }; then
        if [ "$deps" = "[dev,torch]" ]; then
            "$uv" pip install --compile-bytecode --python "$venv/bin/python" -e ".[dev]" &&
                "$venv/bin/python" -m pip install -e ".[torch]"
        else
            "$uv" pip install --compile-bytecode --python "$venv/bin/python" -e ".$deps"
        fi && return 0
        echo "uv could not install them; trying again with pip."
    fi
    "$venv/bin/python" -m pip install --upgrade pip && "$venv/bin/python" -m pip install -e ".$deps"
}
if [ ! -f "$stamp" ]; then
    begin "Installing the course and its dependencies into $venv (a minute or two the first time)"
    log="$venv/install.log"
    install "$extras" > "$log" 2>&1 &
    if ! wait_for $! "$log"; then
        tail -n 30 "$log" >&2
        echo "Installing failed; the whole log is in $log." >&2
        exit 1
    fi
    touch "$stamp"
    took
fi

# The course's own modules, compiled too (they are installed editable, so uv leaves them be);
# a source newer than its compiled file is simply compiled again.
"$venv/bin/python" -m compileall -q grader/mgcourse > /dev/null || true

have_dot() {
    command -v dot >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        begin "Installing graphviz (the dot program that draws the graphs) with apt-get"
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null
        took
        command -v dot >/dev/null 2>&1 && return 0
    fi
    echo "graphviz's 'dot' program is missing, so draw_dot cannot draw pictures." >&2
    echo "Install it: 'sudo apt-get install graphviz' (Debian, Ubuntu), 'brew install graphviz' (macOS)." >&2
    return 1
}

if [ "$mode" = check ]; then
    have_dot || echo "(Checking your work does not need it; carrying on.)" >&2
    exec "$venv/bin/mgcourse" check "$@"
fi

have_dot || { echo "The test suite renders graphs with the real dot program; install it first." >&2; exit 1; }

# Install a Debian package the tests use, where its command is missing and apt-get can (root);
# else say which tests are skipped without it: need COMMAND PACKAGE WHAT-IT-IS SKIPPED-TESTS
need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        begin "Installing $2 ($3) with apt-get"
        local log="$venv/apt-$2.log"
        { DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" ||
            { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2"; }; } > "$log" 2>&1 &
        if wait_for $! "$log"; then took; else echo "Could not install $2 (see $log); $4 will be skipped." >&2; fi
    else
        echo "$2 ($1) is missing: $4 will be skipped." >&2
        echo "Install it: 'sudo apt-get install $2' (Debian, Ubuntu)." >&2
    fi
}
# The batch grader runs student code inside bubblewrap when it works here; the hostile-submission
# tests that need the sandbox (network, reading the solutions) are skipped without it.
need bwrap bubblewrap "the batch grader's sandbox" "the batch grader's sandbox tests"
# The browser test opens the notebooks in JupyterLab in headless Chromium.
need chromium chromium "the browser test's headless browser" "the browser test (notebooks in JupyterLab)"
set +e
# One test file per worker, a worker per core: each file's fixtures (a scratch nbgrader course,
# a trained network) are built once, in the worker that runs the file.
begin "Running the test suite"
"$venv/bin/python" -m pytest tests -n auto --dist loadfile "$@"
status=$?
took
set -e
if [ "$status" -eq 5 ]; then
    echo "No test was collected: the test suite is missing or was deselected entirely." >&2
    exit 1
fi
exit "$status"
