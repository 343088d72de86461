#!/usr/bin/env bash
# The sync engine's benchmark (BENCHMARKS.md, "iris sync"): an initial cycle of N users from a
# CSV into a local `iris serve`, then incremental cycles with no change, 1 % and 10 % changed.
#
#   cargo build --release -p iris
#   crates/iris-sync/bench/run.sh [sqlite|postgres] [USERS] [MATCH_MODE] [STATE]
#
# MATCH_MODE: query (Entra's: a matching query before each create) or create-first.
# STATE: shared (the sync state in Iris's database, the default) or separate (its own SQLite).
# PostgreSQL: postgres://postgres@127.0.0.1:5432, database iris_sync_bench (dropped first).
# CONCURRENCY (default 32): requests in flight.
set -euo pipefail

ENGINE=${1:-sqlite}
USERS=${2:-100000}
MODE=${3:-query}
STATE=${4:-shared}
IRIS=${IRIS:-$(dirname "$0")/../../../target/release/iris}
PORT=${PORT:-18190}
WORK=$(mktemp -d)
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT

case "$ENGINE" in
  sqlite) DB="sqlite://$WORK/iris.db" ;;
  postgres)
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS iris_sync_bench" -c "CREATE DATABASE iris_sync_bench"
    DB="postgres://postgres@127.0.0.1:5432/iris_sync_bench" ;;
  *) echo "engine: sqlite or postgres" >&2; exit 2 ;;
esac
SYNC_DB=$DB
[ "$STATE" = separate ] && SYNC_DB="sqlite://$WORK/state.db"

directory() { # $1: every how many users a givenName changes (0: none)
  awk -v n="$USERS" -v every="$1" 'BEGIN {
    print "objectId,objectType,userPrincipalName,givenName,surname,mail,mailNickname,telephoneNumber,department,accountEnabled"
    split("Sales Engineering Marketing Legal Finance", d, " ")
    for (i = 0; i < n; i++) {
      given = (every > 0 && i % every == 0) ? "Renamed" i : "Given" i
      printf "u%d,user,user%d@contoso.com,%s,Sur%d,user%d@contoso.com,user%d,+1 555 %07d,%s,True\n", i, i, given, i, i, i, i, d[i % 5 + 1]
    }
  }' > "$WORK/directory.csv"
}

TOKEN=$("$IRIS" --database "$DB" tenant create bench --json | sed -E 's/.*"token":"([^"]+)".*/\1/')
"$IRIS" --database "$DB" serve --listen "127.0.0.1:$PORT" --no-bootstrap > "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null && break; sleep 0.1; done

directory 0
"$IRIS" --database "$SYNC_DB" sync job create bench --source "$WORK/directory.csv" \
  --url "http://127.0.0.1:$PORT/scim/v2/bench" --token "$TOKEN" \
  --concurrency "${CONCURRENCY:-32}" --no-groups --match-mode "$MODE" > /dev/null

cycle() { # $1: label
  local out
  out=$("$IRIS" --database "$SYNC_DB" sync run bench --once --json 2> "$WORK/cycle.stderr")
  python3 - "$1" "$out" <<'EOF'
import json, sys
label, r = sys.argv[1], json.loads(sys.argv[2])
u = r["users"]
changed = u["created"] + u["updated"]
secs = r["duration_ms"] / 1000
rate = f"{changed / secs:,.0f} users/s" if changed else "-"
print(f"| {label} | {secs:.2f} s | {u['created']:,} created, {u['updated']:,} updated, {u['unchanged']:,} unchanged | {r['requests']:,} ({r['failed_requests']} failed) | {rate} |")
EOF
}

echo "| $ENGINE, $USERS users, match $MODE, state $STATE | time | objects | requests | rate |"
echo "| --- | --- | --- | --- | --- |"
cycle "initial cycle"
cycle "incremental, no change"
directory 100
cycle "incremental, 1 % changed"
directory 10
cycle "incremental, 10 % changed"
