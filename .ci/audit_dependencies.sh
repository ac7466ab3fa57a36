#!/usr/bin/env bash
# Audit the pinned set (constraints.txt) for known vulnerabilities with pip-audit.
# A machine that cannot reach any vulnerability database (PyPI's JSON API or OSV) gets a visible
# SKIPPED line rather than a false pass or a false failure; a reachable database with a finding
# fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS_VENV="${TOOLS_VENV:-.venv-tools}"
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$TOOLS_VENV/bin/python" ] || "$PYTHON" -m venv "$TOOLS_VENV"
"$TOOLS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check pip-audit==2.10.1
for service in pypi osv; do
    set +e
    output=$("$TOOLS_VENV/bin/pip-audit" -r constraints.txt --no-deps --disable-pip \
        --progress-spinner off -s "$service" 2>&1)
    status=$?
    set -e
    if [ $status -eq 0 ] && ! grep -q "could not be audited" <<<"$output"; then
        echo "dependency audit ($service): no known vulnerabilities"
        exit 0
    fi
    if grep -qE "^Name +Version +ID|Found [0-9]+ known vulnerabilit" <<<"$output"; then
        echo "$output"
        echo "dependency audit ($service): vulnerabilities found" >&2
        exit 1
    fi
done
echo "dependency audit: SKIPPED: no vulnerability database reachable from this machine"
