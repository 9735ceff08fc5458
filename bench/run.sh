#!/usr/bin/env bash
# Seeds a large demo clinic into a fresh database, serves it, and measures a few read endpoints
# (throughput, latency percentiles, status counts, the server's memory). See docs/performance.md.
#
#   bench/run.sh [--clients N] [--weeks W] [--concurrency C] [--duration SECONDS]
#
# Needs what `cargo test` needs: PostgreSQL at DATABASE_URL's server (default
# postgres://postgres@127.0.0.1:5432/postgres). The database it makes is dropped at the end,
# whatever happens. Results: target/bench/ (demo.json, results.json, server.log).
set -euo pipefail
cd "$(dirname "$0")/.."

clients=2000 weeks=12 concurrency=16 duration=10
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients="$2"; shift 2 ;;
    --weeks) weeks="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

server_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db_name="rehabit_bench_$(date +%s)_$$"
# The same server and options, another database name.
without_query="${server_url%%\?*}"
query="${server_url#"$without_query"}"
bench_url="${without_query%/*}/$db_name$query"
out=target/bench
mkdir -p "$out"

log() { printf '\n== %s\n' "$*"; }

log "building (release): the service and the load generator"
cargo build --release --locked
cargo bench --locked --bench http --no-run

server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  cargo bench --locked -q --bench http -- --drop-database "$server_url" "$db_name" \
    || echo "could not drop the database $db_name; drop it by hand" >&2
}
trap cleanup EXIT

log "seeding $clients clients x $weeks weeks into $db_name"
started=$(date +%s%N)
DATABASE_URL="$bench_url" RUST_LOG=warn target/release/rehabit demo \
  --clients "$clients" --weeks "$weeks" --json > "$out/demo.json"
ended=$(date +%s%N)
echo "rehabit demo took $(( (ended - started) / 1000000 )) ms wall clock (creating the database and migrations included)"

# A free port: the first one nothing answers on.
port=""
for _ in $(seq 1 50); do
  candidate=$(( 20000 + RANDOM % 40000 ))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
    port=$candidate
    break
  fi
done
[ -n "$port" ] || { echo "no free port found" >&2; exit 1; }

log "serving on 127.0.0.1:$port (RUST_LOG=warn: no per-request log lines)"
BIND_ADDR="127.0.0.1:$port" DATABASE_URL="$bench_url" RUST_LOG=warn WEBHOOK_WORKER=false \
  JWT_SECRET="bench-only-secret-not-for-anything-else" \
  target/release/rehabit serve > "$out/server.log" 2>&1 &
server_pid=$!

log "load: $concurrency connections, $duration s per endpoint"
cargo bench --locked -q --bench http -- --base-url "http://127.0.0.1:$port" --demo "$out/demo.json" \
  --concurrency "$concurrency" --duration "$duration" --server-pid "$server_pid" --out "$out/results.json"
echo
echo "results: $out/results.json (server log: $out/server.log)"
