# Shared by the CI scripts that run Python tools against live servers (.ci/schemathesis.sh,
# .ci/interop.sh): a virtual environment from PyPI, processes that are all stopped on exit, a
# bounded wait for a process's start-up line, and the fake identity providers on loopback.
# Sourced, not run; each script defines `say` first.

# make_venv DIR PACKAGE...: a fresh virtual environment in DIR with PACKAGE... from PyPI.
make_venv() {
  local venv="$1" wheel
  shift
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian/Ubuntu without python3-venv (no ensurepip): a venv without pip, then pip from
    # its own wheel, fetched from PyPI by the system's pip.
    rm -rf "$venv"
    python3 -m venv --without-pip "$venv"
    python3 -m pip download --quiet --no-deps --dest "$venv/wheels" pip
    wheel="$(ls "$venv"/wheels/pip-*.whl)"
    "$venv/bin/python" "$wheel/pip" install --quiet --no-index "$wheel"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
}

# Processes started with `PIDS+=("$!")` are stopped, and WORK removed, on exit.
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT INT TERM

# Waits (bounded) until FILE contains PATTERN; fails with the file's content otherwise.
wait_for() {
  local file="$1" pattern="$2" what="$3"
  for _ in $(seq 1 300); do
    if grep -q "$pattern" "$file" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  say "$what did not start; its output:"
  cat "$file" >&2
  return 1
}

# start_fake_providers BIN_DIR: the fake Google and Facebook on loopback ports the kernel picks;
# sets FAKE_ENV to the variables they print (`NAME=value`: issuer, Graph and dialog URLs, ids,
# secrets), ready to hand to zeropass.
start_fake_providers() {
  "$1/fake-providers" --google-addr 127.0.0.1:0 --facebook-addr 127.0.0.1:0 \
    >"$WORK/fakes.out" 2>&1 &
  PIDS+=("$!")
  wait_for "$WORK/fakes.out" "FACEBOOK_DIALOG_URL=" "fake-providers"
  FAKE_ENV=()
  while read -r assignment; do
    FAKE_ENV+=("$assignment")
  done < <(grep -oE '(GOOGLE|FACEBOOK)_[A-Z_]+=[^ ]+' "$WORK/fakes.out")
  [ "${#FAKE_ENV[@]}" -eq 7 ] || { say "unexpected fake-providers output:"; cat "$WORK/fakes.out" >&2; exit 1; }
}
