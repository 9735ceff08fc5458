#!/usr/bin/env bash
# Seeds a demo clinic into a fresh database, serves it, loads the hot endpoints over HTTP, runs
# each endpoint's own SQL with pgbench (its ceiling), and reports req/s, p50/p99, the server's
# memory and each endpoint's ratio to its ceiling. See docs/performance.md.
#
#   bench/run.sh [--clients N] [--weeks W] [--scale 10k|10m] [--concurrency C] [--duration SECONDS]
#                [--runs R] [--a BINARY [--b BINARY]] [--no-pgbench]
#
# --scale 10k seeds about 10,000 session logs (300 clients x 4 weeks), --scale 10m about
# 10 million (23,000 clients x 52 weeks; hours of seeding and ~10 GB of disk). --a/--b: two
# release builds of rehabit measured in turn on the same seeded data (A seeds it), R runs each
# (default 3 with --b, else 1); every figure is the median of the runs, and B/A is printed.
# Needs what `cargo test` needs (PostgreSQL at DATABASE_URL's server, default
# postgres://postgres@127.0.0.1:5432/postgres), plus psql and pgbench from the PostgreSQL
# client package. The database it makes is dropped at the end, whatever happens.
# Results: target/bench/ (results.json: the summary; results-<a|b>-<run>.json: each run;
# ceilings.tsv: pgbench tps per run; demo.json; server-*.log).
set -euo pipefail
cd "$(dirname "$0")/.."

clients=2000 weeks=12 concurrency=16 duration=10 runs="" bin_a="" bin_b="" pgbench_on=1
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients="$2"; shift 2 ;;
    --weeks) weeks="$2"; shift 2 ;;
    --scale)
      case "$2" in
        10k) clients=300 weeks=4 ;;
        10m) clients=23000 weeks=52 ;;
        *) echo "bench/run.sh: --scale is 10k or 10m" >&2; exit 2 ;;
      esac
      shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --a) bin_a="$2"; shift 2 ;;
    --b) bin_b="$2"; shift 2 ;;
    --no-pgbench) pgbench_on=0; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$runs" ]; then
  if [ -n "$bin_b" ]; then runs=3; else runs=1; fi
fi

server_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db_name="rehabit_bench_$(date +%s)_$$"
# The same server and options, another database name.
without_query="${server_url%%\?*}"
query="${server_url#"$without_query"}"
bench_url="${without_query%/*}/$db_name$query"
out=target/bench
mkdir -p "$out"
rm -f "$out"/results-*.json "$out/ceilings.tsv"

log() { printf '\n== %s\n' "$*"; }

pg_tool() {
  local tool candidate
  tool=$(command -v "$1" || true)
  if [ -z "$tool" ]; then
    for candidate in /usr/lib/postgresql/*/bin/"$1"; do
      [ -x "$candidate" ] && tool="$candidate"
    done
  fi
  [ -n "$tool" ] || { echo "bench/run.sh: $1 not found (install the PostgreSQL client; or --no-pgbench)" >&2; exit 1; }
  echo "$tool"
}
if [ "$pgbench_on" = 1 ]; then
  pgbench=$(pg_tool pgbench)
  psql=$(pg_tool psql)
fi

log "building (release): the load generator${bin_a:+ (binaries given: $bin_a${bin_b:+, $bin_b})}"
if [ -z "$bin_a" ]; then
  cargo build --release --locked
  bin_a=target/release/rehabit
fi
cargo bench --locked --bench http --no-run
for bin in "$bin_a" ${bin_b:+"$bin_b"}; do
  [ -x "$bin" ] || { echo "bench/run.sh: $bin is not an executable" >&2; exit 2; }
done

server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
cleanup() {
  stop_server
  cargo bench --locked -q --bench http -- --drop-database "$server_url" "$db_name" \
    || echo "could not drop the database $db_name; drop it by hand" >&2
}
trap cleanup EXIT

log "seeding $clients clients x $weeks weeks into $db_name (with $bin_a)"
started=$(date +%s%N)
DATABASE_URL="$bench_url" RUST_LOG=warn "$bin_a" demo \
  --clients "$clients" --weeks "$weeks" --json > "$out/demo.json"
ended=$(date +%s%N)
echo "rehabit demo took $(( (ended - started) / 1000000 )) ms wall clock (creating the database and migrations included)"

# A free port: the first one nothing answers on.
free_port() {
  local candidate
  for _ in $(seq 1 50); do
    candidate=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

# load LABEL BINARY RUN: serves the database with BINARY and loads it.
load() {
  local label="$1" bin="$2" run="$3" port
  port=$(free_port)
  log "run $run, $label ($bin): serving on 127.0.0.1:$port; $concurrency connections, $duration s per endpoint"
  BIND_ADDR="127.0.0.1:$port" DATABASE_URL="$bench_url" RUST_LOG=warn WEBHOOK_WORKER=false \
    JWT_SECRET="bench-only-secret-not-for-anything-else" \
    "$bin" serve > "$out/server-$label-$run.log" 2>&1 &
  server_pid=$!
  cargo bench --locked -q --bench http -- --base-url "http://127.0.0.1:$port" --demo "$out/demo.json" \
    --concurrency "$concurrency" --duration "$duration" --server-pid "$server_pid" \
    --out "$out/results-$label-$run.json"
  stop_server
}

# ceilings RUN: each endpoint's own SQL with pgbench, same concurrency and duration, the
# service stopped. Appends "key tps" lines to ceilings.tsv.
ceilings() {
  local run="$1" picks script key tps
  log "run $run, pgbench ceilings: $concurrency connections, $duration s per script, -M prepared"
  picks=$("$psql" -X -q -At -v ON_ERROR_STOP=1 -f bench/pgbench/pick.sql "$bench_url" | tail -n 1)
  for script in bench/pgbench/*.sql; do
    key=$(basename "$script" .sql)
    [ "$key" = pick ] && continue
    tps=$("$pgbench" -n -M prepared -c "$concurrency" -j 2 -T "$duration" -D "picks=$picks" \
      -f "$script" "$bench_url" 2>&1 | sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p')
    printf '%-18s %s tps\n' "$key" "${tps:-failed}"
    [ -n "$tps" ] && printf '%s %s\n' "$key" "$tps" >> "$out/ceilings.tsv"
  done
}

for run in $(seq 1 "$runs"); do
  load a "$bin_a" "$run"
  if [ -n "$bin_b" ]; then
    load b "$bin_b" "$run"
  fi
  if [ "$pgbench_on" = 1 ]; then
    ceilings "$run"
  fi
done

log "summary: medians of $runs run(s)${bin_b:+; B/A is B's req/s over A's}"
a_files=() b_files=()
for run in $(seq 1 "$runs"); do
  a_files+=("$out/results-a-$run.json")
  if [ -n "$bin_b" ]; then b_files+=("$out/results-b-$run.json"); fi
done
summary_args=(--summarize --out "$out/results.json" --a "${a_files[@]}")
if [ -n "$bin_b" ]; then summary_args+=(--b "${b_files[@]}"); fi
if [ -s "$out/ceilings.tsv" ]; then summary_args+=(--ceilings "$out/ceilings.tsv"); fi
cargo bench --locked -q --bench http -- "${summary_args[@]}"
echo
echo "results: $out/results.json (each run: $out/results-*.json, server logs: $out/server-*.log)"
