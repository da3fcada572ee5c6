#!/usr/bin/env bash
# bench/cpu-per-request.sh BIN_DIR sqlite|postgres ZP_CPUS LOAD_CPUS [USERS] [SECONDS]
#
# zeropass's own CPU time per GET /users/me (utime + stime from /proc/PID/stat around a wrk
# run) and its throughput, with zeropass pinned to ZP_CPUS (taskset; actix starts one worker
# per CPU it may use) and the fake Google, the sign-ins and wrk pinned to LOAD_CPUS. For
# "PostgreSQL on a core of its own", pin the PostgreSQL server to LOAD_CPUS first (e.g.
# `for p in $(pgrep postgres); do taskset -p -c 1 $p; done`, and back afterwards).
# BIN_DIR holds release builds of zeropass, fake-providers and bench-loadgen. Env: PGQ (added to
# the PostgreSQL URL, e.g. '?sslmode=disable'), PERF=FILE (perf record -g of zeropass during the
# run), EXTRA_ENV (more VAR=value for zeropass). PostgreSQL: postgres://postgres@127.0.0.1:5432.
# Used for docs/performance.md's per-request CPU figures; bench/run.sh stays the run of record.
set -euo pipefail
BIN=$1; DBK=$2; ZCPU=$3; LCPU=$4; USERS=${5:-2000}; SECS=${6:-8}
W=$(mktemp -d); PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null||true; done; sleep 0.3; rm -rf $W; [[ -n ${PGDB:-} ]] && psql postgres://postgres@127.0.0.1/postgres -XAtqc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null' EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
GP=$(port); FP=$(port); ZP=$(port)
taskset -c $LCPU $BIN/fake-providers --google-addr 127.0.0.1:$GP --facebook-addr 127.0.0.1:$FP >$W/fake.log 2>&1 & PIDS+=($!)
sleep 0.5
if [[ $DBK == sqlite ]]; then URL="sqlite://$W/z.db"; else PGDB=zp_exp_$$; psql postgres://postgres@127.0.0.1/postgres -XAtqc "CREATE DATABASE $PGDB" >/dev/null; URL="postgres://postgres@127.0.0.1:5432/$PGDB${PGQ:-}"; fi
(cd $W && exec env BIND_ADDR=127.0.0.1:$ZP PUBLIC_URL=http://127.0.0.1:$ZP DATABASE_URL=$URL JWT_SECRET=zeropass-benchmark-secret-0123456789abcdef JWT_TTL_SECONDS=86400 GOOGLE_ISSUER_URL=http://127.0.0.1:$GP GOOGLE_CLIENT_ID=fake-google-client-id.apps.googleusercontent.com GOOGLE_CLIENT_SECRET=x AUTH_RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn ${EXTRA_ENV:-} taskset -c $ZCPU $BIN/zeropass) >$W/zp.log 2>&1 & ZPID=$!; PIDS+=($ZPID)
for i in $(seq 100); do curl -fs -o /dev/null http://127.0.0.1:$ZP/health && break; sleep 0.1; done
taskset -c $LCPU $BIN/bench-loadgen signin --base http://127.0.0.1:$ZP --issuer http://127.0.0.1:$GP --users $USERS --concurrency 32 --out $W/tokens.txt >/dev/null
cat >$W/r.lua <<'LUA'
local counter = 0
function setup(thread) thread:set("id", counter); counter = counter + 1 end
function init(args) tokens = {}; for line in io.lines(args[1]) do tokens[#tokens + 1] = "Bearer " .. line end; i = (id * 7919) % #tokens end
function request() i = i % #tokens + 1; return wrk.format("GET", "/users/me", { ["Authorization"] = tokens[i] }) end
LUA
taskset -c $LCPU wrk -t1 -c32 -d2s -s $W/r.lua http://127.0.0.1:$ZP/users/me -- $W/tokens.txt >/dev/null
cpu() { awk '{print $14+$15}' /proc/$ZPID/stat; }
[[ -n ${PERF:-} ]] && { perf record -e cpu-clock -F 2000 -g -o $PERF -p $ZPID -- sleep $((SECS-1)) >/dev/null 2>&1 & }
B=$(cpu); taskset -c $LCPU wrk -t1 -c64 -d${SECS}s -s $W/r.lua http://127.0.0.1:$ZP/users/me -- $W/tokens.txt >$W/wrk.txt; A=$(cpu)
N=$(awk '/requests in/ {print $1}' $W/wrk.txt); RPS=$(awk '/Requests\/sec/ {print $2}' $W/wrk.txt)
grep -q Non-2xx $W/wrk.txt && echo "FAILED requests" && cat $W/wrk.txt
TCK=$(getconf CLK_TCK)
awk -v a=$A -v b=$B -v n=$N -v t=$TCK -v rps=$RPS -v db=$DBK -v z="$ZCPU" 'BEGIN{printf "%s zp-cpus=%s req/s=%s  zeropass CPU per request=%.1f us\n", db, z, rps, (a-b)/t*1e6/n}'
