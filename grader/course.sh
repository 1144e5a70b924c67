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

venv=.venv
if [ ! -x "$venv/bin/python" ]; then
    echo "Creating the virtual environment $venv ..."
    "$python" -m venv "$venv"
fi

# What each mode installs: the student needs the package; the test suite needs the
# test tools and PyTorch (the second gradient oracle), pinned in pyproject.toml.
if [ "$mode" = test ]; then extras="[dev,torch]"; else extras="[notebooks]"; fi
stamp="$venv/.installed-$(cat pyproject.toml | "$venv/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])')$extras"
if [ ! -f "$stamp" ]; then
    echo "Installing the course and its dependencies into $venv ..."
    log="$venv/install.log"
    if ! { "$venv/bin/python" -m pip install --upgrade pip &&
           "$venv/bin/python" -m pip install -e ".$extras"; } > "$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "Installing failed; the whole log is in $log." >&2
        exit 1
    fi
    touch "$stamp"
fi

have_dot() {
    command -v dot >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing graphviz (the dot program that draws the graphs) with apt-get ..."
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null
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
        echo "Installing $2 ($3) with apt-get ..."
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; } ||
            echo "Could not install $2; $4 will be skipped." >&2
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
"$venv/bin/python" -m pytest tests -n auto --dist loadfile "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "No test was collected: the test suite is missing or was deselected entirely." >&2
    exit 1
fi
exit "$status"
