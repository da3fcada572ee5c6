#!/usr/bin/env bash
# Proof from outside Rust: PyJWT (with cryptography, both from PyPI) verifies zeropass's ES256
# and EdDSA access tokens from its published JWKS, so that our claims about the JWK format and
# the token headers are checked by someone else's code (tests/interop/verify_tokens.py).
#
# For each algorithm a zeropass starts on a temporary SQLite file with the fake providers (the
# `fake-providers` binary), all on loopback with ports the kernel picks; a user signs in through
# the fake Google; PyJWT verifies the token (algorithm pinned, audience, issuer) and refuses it
# tampered; then `zeropass keys rotate --now` runs beside the server and PyJWT verifies the old
# and the new token from one JWKS. With HS256 the JWKS must be empty. Everything started is
# stopped on exit. Fails (non-zero) on any problem; never skips.
#
# The virtual environment lives under target/ (git-ignored) and is reused while it holds the
# pinned versions.
#
# Usage: bash .ci/interop.sh     (builds the two binaries if needed; honours CARGO_TARGET_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

PYJWT_VERSION="2.15.1"
CRYPTOGRAPHY_VERSION="50.0.2"
VENV="$ROOT/target/interop-venv"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PUBLIC_URL="http://127.0.0.1:8080" # the issuer; the servers listen elsewhere
SECRET="interop-run-secret-of-at-least-32-bytes!"

say() { printf 'interop.sh: %s\n' "$*" >&2; }
# The venv maker, the process bookkeeping (WORK, PIDS, stopped on exit), wait_for, the fakes.
# shellcheck source=.ci/lib.sh
source .ci/lib.sh

# ---- PyJWT and cryptography -----------------------------------------------------------------
venv_ok() {
  "$VENV/bin/python" -c "
import sys, jwt, cryptography
sys.exit(not (jwt.__version__ == '$PYJWT_VERSION' and cryptography.__version__ == '$CRYPTOGRAPHY_VERSION'))
" 2>/dev/null
}
if ! venv_ok; then
  say "installing PyJWT $PYJWT_VERSION and cryptography $CRYPTOGRAPHY_VERSION into $VENV"
  make_venv "$VENV" "PyJWT==$PYJWT_VERSION" "cryptography==$CRYPTOGRAPHY_VERSION"
  venv_ok || { say "PyJWT / cryptography did not install"; exit 1; }
fi

# ---- the binaries (already built by the test step; this is then a no-op) -------------------
cargo build --locked --quiet -p zeropass -p zeropass-fake-providers
BIN="$TARGET/debug"

# ---- processes: started below, all stopped on exit (.ci/lib.sh) ------------------------------------------
start_fake_providers "$BIN"

# zeropass_env ALG NAME: the environment of the server (and its CLI) for ALG on NAME.db.
zeropass_env() {
  echo PATH="$PATH" \
    DATABASE_URL="sqlite://$WORK/$2.db" \
    PUBLIC_URL="$PUBLIC_URL" \
    JWT_SECRET="$SECRET" \
    JWT_ALGORITHM="$1" \
    JWT_KEY_RELOAD_SECONDS=1 \
    AUTH_RATE_LIMIT_PER_MINUTE=0 \
    RUST_LOG=info
}

# Starts zeropass with JWT_ALGORITHM=ALG; sets BASE and LOG.
start_zeropass() {
  local alg="$1"
  LOG="$WORK/$alg.log"
  # shellcheck disable=SC2046 # the variables are words without spaces
  (cd "$WORK" && exec env -i $(zeropass_env "$alg" "$alg") BIND_ADDR=127.0.0.1:0 \
    "${FAKE_ENV[@]}" "$BIN/zeropass") >"$LOG" 2>&1 &
  PIDS+=("$!")
  wait_for "$LOG" "listening on http://" "zeropass ($alg)"
  BASE="$(grep -oE 'listening on http://[0-9.:]+' "$LOG" | head -n1 | sed 's/listening on //')"
  case "$BASE" in
    http://127.0.0.1:*) ;;
    *) say "zeropass is not on loopback: '$BASE'"; exit 1 ;;
  esac
}

verify() { NO_PROXY='*' "$VENV/bin/python" "$ROOT/tests/interop/verify_tokens.py" "$@"; }

failed() {
  say "FAILED ($1); the server's log:"
  tail -n 40 "$LOG" >&2
  exit 1
}

for alg in ES256 EdDSA; do
  start_zeropass "$alg"
  verify "$BASE" "$PUBLIC_URL" "$alg" --token-out "$WORK/$alg.token" || failed "$alg"
  # shellcheck disable=SC2046
  (cd "$WORK" && env -i $(zeropass_env "$alg" "$alg") "$BIN/zeropass" keys rotate --now) \
    >"$WORK/rotate.out" 2>&1 || { cat "$WORK/rotate.out" >&2; failed "keys rotate --now, $alg"; }
  verify "$BASE" "$PUBLIC_URL" "$alg" --old-token "$WORK/$alg.token" || failed "$alg after rotation"
  if grep -qi "panicked" "$LOG"; then
    failed "the $alg server panicked"
  fi
done
start_zeropass HS256
verify "$BASE" "$PUBLIC_URL" HS256 || failed "HS256"

say "passed: PyJWT $PYJWT_VERSION verified zeropass's ES256 and EdDSA tokens from its JWKS"
