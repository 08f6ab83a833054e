#!/usr/bin/env bash
# klavi-mock around a test command, for any CI (or a laptop):
#
#   docs/recipes/ci.sh pytest tests/          # or: bash ci.sh npm test
#
# Starts `klavi-mock serve` in the background on 127.0.0.1 (KLAVI_MOCK_PORT, default 0: any
# free port), waits until it is healthy (GET /__mock/health), runs the command with
# KLAVI_MOCK_URL (e.g. http://127.0.0.1:41234) and KLAVI_BASE_URL (…/data/v1) set, then stops
# the mock with SIGTERM and exits with the command's status. Every other KLAVI_MOCK_* variable
# reaches the mock (KLAVI_MOCK_CONFIG, KLAVI_MOCK_TENANTS, KLAVI_MOCK_LOG_FORMAT...).
#
# klavi-mock comes from PATH; when it is not there, it is installed into a virtual environment
# from KLAVI_MOCK_SOURCE (a clone's path, a wheel, or a pip URL such as
# git+https://github.com/OWNER/klavi-mock@REF), by default the clone this script is in.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
log="$work/klavi-mock.log"
: >"$log"
pid=""

stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

if command -v klavi-mock >/dev/null 2>&1; then
  mock=(klavi-mock)
else
  source="${KLAVI_MOCK_SOURCE:-$here/../..}"
  echo "ci.sh: installing klavi-mock from $source" >&2
  "${PYTHON:-python3}" -m venv "$work/venv"
  "$work/venv/bin/python" -m pip install -q "$source"
  mock=("$work/venv/bin/klavi-mock")
fi

"${mock[@]}" serve --host 127.0.0.1 --port "${KLAVI_MOCK_PORT:-0}" >"$log" 2>&1 &
pid=$!

base=""
deadline=$((SECONDS + ${KLAVI_MOCK_WAIT:-60}))
while :; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "ci.sh: klavi-mock exited before it was healthy:" >&2
    cat "$log" >&2
    exit 1
  fi
  # The banner comes once the port is bound and names it (with port 0, the one chosen).
  [ -n "$base" ] || base="$(grep -m1 -o 'Klavi API *http[^ ]*/data/v1' "$log" | sed -e 's#^Klavi API *##' -e 's#/data/v1$##' || true)"
  if [ -n "$base" ] && "${mock[@]}" health --url "$base" --timeout 2 >&2; then
    break
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "ci.sh: klavi-mock was not healthy in time:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.5
done

export KLAVI_MOCK_URL="$base" KLAVI_BASE_URL="$base/data/v1"
status=0
"$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "ci.sh: the command exited $status; klavi-mock's log:" >&2
  tail -n 50 "$log" >&2
fi
exit "$status"
