#!/usr/bin/env bash
# Rehabit's fault tests (tests/faults/faults.py): builds the service, then runs the scenarios
# named (default: all) against a private PostgreSQL cluster started on a free port.
#   tests/faults/run.sh                  # every scenario
#   tests/faults/run.sh held_lock sigint # some
#   tests/faults/run.sh --list
# REHABIT_BIN=path skips the build and tests that binary; PG_BIN names PostgreSQL's server
# binaries (default: the newest /usr/lib/postgresql/*/bin).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${REHABIT_BIN:-}" ]; then
  cargo build --quiet --bin rehabit
  REHABIT_BIN=target/debug/rehabit
fi
if [ -z "${PG_BIN:-}" ]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  export PG_BIN
fi
exec python3 -B tests/faults/faults.py --bin "$REHABIT_BIN" "$@"
