#!/usr/bin/env bash
# schemathesis (from PyPI) against a running zeropass: it reads the server's own /openapi.json,
# generates requests for every operation (valid and invalid), and checks that no response is a
# 5xx and that every response conforms to the document (status code, content type, headers,
# body schema).
#
# Everything stays on loopback: the server and both fake identity providers (the
# `fake-providers` binary) listen on 127.0.0.1 with ports the kernel picks, the database is a
# temporary file, and all of it is stopped on exit. The virtual environment lives under
# target/ (git-ignored) and is reused while it holds the pinned version.
#
# Two servers: one with the sign-in rate limit off, so that every operation is tested past it
# (all operations, with a real access token); then one with the default limit, against /auth/*
# only, so that its 429 answers are checked against the document too. Local processes are not
# rate-limited, so that second run comes "through" a declared proxy on the loopback, carrying
# a forwarded client address, as production traffic behind a same-host proxy does.
#
# Usage: bash .ci/schemathesis.sh            (builds the two binaries if needed)
# Env:   ST_MAX_EXAMPLES (default 30 per operation), ST_TIME_LIMIT (default 240 s per run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

SCHEMATHESIS_VERSION="4.32.5" # needs Python 3.11 or later
VENV="$ROOT/target/schemathesis-venv"
MAX_EXAMPLES="${ST_MAX_EXAMPLES:-30}"
TIME_LIMIT="${ST_TIME_LIMIT:-240}" # seconds per schemathesis run
CHECKS="not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance"

say() { printf 'schemathesis.sh: %s\n' "$*" >&2; }
# The venv maker, the process bookkeeping (WORK, PIDS, stopped on exit), wait_for, the fakes.
# shellcheck source=.ci/lib.sh
source .ci/lib.sh

# ---- schemathesis itself ------------------------------------------------------------------
st_ok() { "$VENV/bin/st" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; }
if ! st_ok; then
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    { say "schemathesis $SCHEMATHESIS_VERSION needs Python 3.11 or later: $(python3 --version)"; exit 1; }
  say "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  make_venv "$VENV" "schemathesis==$SCHEMATHESIS_VERSION"
  st_ok || { say "schemathesis did not install"; exit 1; }
fi

# ---- the binaries (already built by the test step; this is then a no-op) ------------------
cargo build --locked --quiet -p zeropass -p zeropass-fake-providers

# ---- processes: started below, all stopped on exit (.ci/lib.sh) ----------------------------------------
start_fake_providers target/debug

# Starts a zeropass named NAME with the fakes, a fresh database and any further VAR=value
# arguments; sets BASE to its http://127.0.0.1:PORT and LOG to its log file.
start_zeropass() {
  local name="$1"
  shift
  LOG="$WORK/$name.log"
  env -i PATH="$PATH" \
    BIND_ADDR=127.0.0.1:0 \
    PUBLIC_URL=http://127.0.0.1:8080 \
    DATABASE_URL="sqlite://$WORK/$name.db" \
    JWT_SECRET="schemathesis-run-secret-of-at-least-32-bytes" \
    ALLOWED_REDIRECT_URIS="com.example.app:/signed-in,https://app.example.com/after-sign-in" \
    RUST_LOG=info \
    "${FAKE_ENV[@]}" \
    "$@" \
    target/debug/zeropass >"$LOG" 2>&1 &
  PIDS+=("$!")
  wait_for "$LOG" "listening on http://" "zeropass ($name)"
  BASE="$(grep -oE 'listening on http://[0-9.:]+' "$LOG" | head -n1 | sed 's/listening on //')"
  case "$BASE" in
    http://127.0.0.1:*) ;;
    *) say "zeropass is not on loopback: '$BASE'"; exit 1 ;;
  esac
}

# `st`, with one patch: on some CPython 3.11 releases (seen on 3.11.7), hypothesis describing a
# filter lambda can hit the interpreter's "AST constructor recursion depth mismatch"
# SystemError, which aborts a whole phase; a description is only cosmetic, so that error gives
# the generic one instead.
ST_PY='
import sys
import hypothesis.internal.lambda_sources as sources
describe = sources._lambda_description
def described(f):
    try:
        return describe(f)
    except SystemError:
        return "lambda: <unknown>"
sources._lambda_description = described
from schemathesis.cli import schemathesis
sys.argv[0] = "st"
sys.exit(schemathesis())
'
# Runs schemathesis against BASE with the common options and the given ones; bounded in
# time; from the temporary directory, so that its cache stays out of the repository.
st_run() {
  (cd "$WORK" && NO_PROXY='*' timeout --kill-after=10 "$TIME_LIMIT" \
    "$VENV/bin/python" -c "$ST_PY" run "$BASE/openapi.json" \
    --url "$BASE" \
    --checks "$CHECKS" \
    --max-examples "$MAX_EXAMPLES" \
    --generation-deterministic \
    --request-timeout 20 \
    --max-redirects 0 \
    --workers 4 \
    --no-color \
    "$@")
}

status=0
server_failed() {
  local log="$1"
  if grep -q -i "panicked" "$log"; then
    say "the server panicked:"
    grep -i -A3 "panicked" "$log" >&2
    return 0
  fi
  return 1
}

# ---- 1. every operation, the rate limit off -----------------------------------------------
start_zeropass open AUTH_RATE_LIMIT_PER_MINUTE=0

# Two things schemathesis does not do, in Python (the machine may have no curl):
# - a structural check of the document: every path parameter is in its path's template
#   (utoipa documents a query struct it cannot see as required *path* parameters);
# - a real access token, through the browser flow against the fake Google (start -> the fake's
#   authorization endpoint -> our callback; PUBLIC_URL is not the ephemeral address, so only the
#   callback's query is kept), so that the authenticated operations are tested past the Bearer
#   check too.
TOKEN="$("$VENV/bin/python" - "$BASE" <<'PY'
import http.client, json, sys, urllib.parse

base = urllib.parse.urlsplit(sys.argv[1])

def get(url, headers=None):
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    target = parts.path + ("?" + parts.query if parts.query else "")
    connection.request("GET", target, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.headers, response.read()

status, _, body = get(sys.argv[1] + "/openapi.json")
document = json.loads(body)
wrong = [
    method.upper() + " " + path + ": " + parameter["name"]
    for path, operations in document["paths"].items()
    for method, operation in operations.items()
    for parameter in operation.get("parameters", [])
    if parameter["in"] == "path" and "{" + parameter["name"] + "}" not in path
]
if wrong:
    sys.exit("path parameters missing from their path template: " + "; ".join(wrong))

status, headers, _ = get(sys.argv[1] + "/auth/google/start")
assert status == 302, status
cookie = headers["Set-Cookie"].split(";")[0]
status, headers, _ = get(headers["Location"])
assert status == 302, status
query = urllib.parse.urlsplit(headers["Location"]).query
status, _, body = get(sys.argv[1] + "/auth/google/callback?" + query, {"Cookie": cookie})
assert status == 200, (status, body)
print(json.loads(body)["access_token"])
PY
)" || { say "the document check or the sign-in through the fake Google failed"; exit 1; }

say "zeropass at $BASE: deterministic generation, at most $MAX_EXAMPLES examples per operation"
# Everything but the erasure first, while the token's user exists; then the erasure.
st_run --header "Authorization: Bearer $TOKEN" --exclude-method DELETE || status=$?
st_run --header "Authorization: Bearer $TOKEN" --include-method DELETE || status=$?
server_failed "$LOG" && status=1
OPEN_LOG="$LOG"

# ---- 2. the sign-in endpoints under the default rate limit ---------------------------------
start_zeropass limited TRUSTED_PROXIES=127.0.0.1
say "zeropass at $BASE with the default sign-in rate limit: /auth/* only"
st_run --include-path-regex '^/auth/' --header "X-Forwarded-For: 198.51.100.9" || status=$?
server_failed "$LOG" && status=1

if [ "$status" -eq 0 ]; then
  say "passed: no 5xx, every response conforms to /openapi.json"
else
  say "FAILED (exit $status); the servers' warnings and errors:"
  grep -h -E ' (WARN|ERROR) ' "$OPEN_LOG" "$LOG" | tail -n 40 >&2 || true
fi
exit "$status"
