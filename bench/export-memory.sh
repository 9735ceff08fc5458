#!/usr/bin/env bash
# The export's memory (docs/performance.md, "Export memory"): seeds one demo client, extends
# their logs to five years of daily sessions with SQL, serves, and samples the server's memory
# while exporting that client three times (and a client without data, for comparison).
#
#   bench/export-memory.sh
#
# Needs PostgreSQL at DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/postgres),
# psql and python3. The database it makes is dropped at the end. Results: target/bench/export-memory/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
bin=target/release/rehabit
server_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db="rehabit_export_memory_$(date +%s)_$$"
without_query="${server_url%%\?*}"
url="${without_query%/*}/$db"
out=target/bench/export-memory; mkdir -p $out
DATABASE_URL="$url" RUST_LOG=warn $bin demo --clients 1 --weeks 52 --json > $out/demo.json
client=$(python3 -c "import json;print(json.load(open('$out/demo.json'))['client_ids'][0])")
admin=$(python3 -c "import json;d=json.load(open('$out/demo.json'));print(d['logins']['admin']['email'])")
pw=$(python3 -c "import json;d=json.load(open('$out/demo.json'));print(d['logins']['admin']['password'])")
psql -q "$url" <<SQL
-- Five years: each assignment starts 1826 days ago, and every earlier day gets one log per
-- assignment with an entry per item, like the demo's own logs; a measurement each Monday.
UPDATE assignments SET start_date = current_date - 1826 WHERE client_id = '$client';
CREATE TEMP TABLE new_logs AS
SELECT gen_random_uuid() AS id, a.clinic_id, a.client_id, a.id AS assignment_id, d::date AS local_date
FROM assignments a, generate_series(current_date - 1826, (SELECT min(local_date) - 1 FROM session_logs WHERE client_id = '$client'), interval '1 day') d
WHERE a.client_id = '$client';
INSERT INTO session_logs (id, clinic_id, client_id, assignment_id, performed_at, local_date, duration_seconds,
  pain_before, pain_after, effort, notes, logged_by_role, content_hash)
SELECT id, clinic_id, client_id, assignment_id, local_date + time '18:00', local_date, 900, 3, 2, 5,
  'felt fine, a little tight on the left', 'client', '\x00'
FROM new_logs;
INSERT INTO session_entries (clinic_id, session_id, position, assignment_item_id, side, sets_done, hold_seconds, completed)
SELECT l.clinic_id, l.id, i.position, i.id, 'left', 1, 60, true
FROM new_logs l JOIN assignment_items i ON i.assignment_id = l.assignment_id AND i.removed_at IS NULL;
INSERT INTO session_measurements (clinic_id, session_id, position, client_id, kind, side, value)
SELECT l.clinic_id, l.id, 0, l.client_id, 'hip_internal_rotation_deg', 'left', 30
FROM new_logs l WHERE extract(isodow FROM l.local_date) = 1;
ANALYZE;
SQL
psql -qtA "$url" -c "SELECT 'logs', count(*) FROM session_logs WHERE client_id = '$client' UNION ALL SELECT 'entries', count(*) FROM session_entries e JOIN session_logs l ON l.id = e.session_id WHERE l.client_id = '$client' UNION ALL SELECT 'measurements', count(*) FROM session_measurements WHERE client_id = '$client' UNION ALL SELECT 'days', max(local_date) - min(local_date) FROM session_logs WHERE client_id = '$client'" | tee $out/counts.txt
port=$(( 20000 + RANDOM % 40000 ))
BIND_ADDR="127.0.0.1:$port" DATABASE_URL="$url" RUST_LOG=warn WEBHOOK_WORKER=false JWT_SECRET="rss-only-secret-not-for-anything-else!" $bin serve > $out/server.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; psql -q "$server_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.2; done
mem() { grep -E "VmRSS|VmHWM" /proc/$pid/status | tr -s ' ' | tr '\n' ' '; }
token=$(curl -s "http://127.0.0.1:$port/v1/auth/token" -H 'content-type: application/json' \
  -d "{\"grant_type\":\"password\",\"username\":\"$admin\",\"password\":\"$pw\"}" | python3 -c "import json,sys;print(json.load(sys.stdin)['access_token'])")
small=$(curl -s "http://127.0.0.1:$port/v1/clients" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"name":"Small","timezone":"Europe/London"}' | python3 -c "import json,sys;print(json.load(sys.stdin)['id'])")
echo "ready, signed in:        $(mem)" | tee $out/memory.txt
curl -s "http://127.0.0.1:$port/v1/clients/$small/export" -H "authorization: Bearer $token" -o $out/small.json
echo "after a small export:    $(mem) ($(stat -c %s $out/small.json) bytes)" | tee -a $out/memory.txt
for run in 1 2 3; do
  peak=0
  ( while kill -0 $pid 2>/dev/null; do awk '/VmRSS/{print $2}' /proc/$pid/status; sleep 0.05; done ) > $out/samples-$run.txt &
  sampler=$!
  start=$(date +%s%N)
  curl -s "http://127.0.0.1:$port/v1/clients/$client/export" -H "authorization: Bearer $token" -o $out/big.json
  end=$(date +%s%N)
  kill $sampler 2>/dev/null; wait $sampler 2>/dev/null || true
  peak=$(sort -n $out/samples-$run.txt | tail -1)
  echo "5-year export, run $run:  $(mem) peak VmRSS sampled ${peak} kB; $(stat -c %s $out/big.json) bytes in $(( (end-start)/1000000 )) ms; ends: $(tail -c 20 $out/big.json)" | tee -a $out/memory.txt
done
python3 -c "import json;d=json.load(open('$out/big.json'));print('sessions', len(d['sessions']), 'assignments', len(d['assignments']), 'access_log', len(d['access_log']), 'complete', d['complete'])" | tee -a $out/memory.txt
