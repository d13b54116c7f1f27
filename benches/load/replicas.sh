#!/usr/bin/env bash
# Portico's replica load run: a stored Responses turn through a load balancer
# to two replicas sharing one PostgreSQL database, beside one replica on
# SQLite and beside the floor proxy behind the same load balancer.
#
#   bash benches/load/replicas.sh
#
# What it does (everything on 127.0.0.1, every process it starts is stopped
# and the PostgreSQL cluster's folder removed at the end; about 2 minutes
# once built):
#   1. builds `portico` (release) and the floor proxy (`floorproxy`, see
#      benches/load/floor.rs) as run.sh does; installs oha with
#      `cargo install oha --locked` into target/load-tools/ if run.sh has not
#      (no wrk fallback here: wrk cannot hold a fixed rate);
#   2. starts a throwaway PostgreSQL cluster (the newest
#      /usr/lib/postgresql/*/bin, run as the `postgres` user, its data in a
#      temporary folder, fsync and synchronous_commit on as in production,
#      max_connections=300) and creates a database in it;
#   3. starts `portico mock-backend` (answers at once), two `portico serve`
#      replicas on that database, one `portico serve` on a fresh SQLite file,
#      and the floor proxy in front of the mock;
#   4. starts nginx (installed with apt-get if missing) with one config in
#      the work folder: three ports, load balancer → {the two PostgreSQL
#      replicas, round robin}, → {the SQLite replica}, → {the floor proxy};
#      HTTP/1.1 keep-alive to the upstreams (64 idle connections each),
#      no buffering, no access log;
#   5. measures at a fixed rate with oha (latency from each request's
#      scheduled start, as run.sh): the stored turn (store=true,
#      previous_response_id → a response stored through the same load
#      balancer; run.sh's request) through the PostgreSQL pair and through the
#      SQLite replica, and run.sh's chat request through the floor (the mock
#      serves no Responses API: the chat call is the backend call a stored
#      turn makes, with nothing of a gateway around it) and through the
#      PostgreSQL pair (chat pass-through unaffected by the shared database).
#      The four runs are repeated ROUNDS times, in reverse order every other
#      round, so that each meets the machine's noise at several moments.
#      Meanwhile it samples what the replicas' database connections are doing
#      (pg_stat_activity) and reads PostgreSQL's counters around each run;
#   6. prints the table (p50/p90/p99/max, errors and non-200 answers, CPU per
#      request; added p99 over the floor of the same round; PostgreSQL's
#      transactions, WAL flushes and sequentially scanned rows per request;
#      the replicas' ERROR/WARN log lines) and writes it into
#      benches/RESULTS.md between the `replicas:begin` / `replicas:end`
#      markers (appended when absent), with date, machine, load and commit.
#      Logs and raw results stay in target/load-replicas/.
#
# Environment: LOAD_SECONDS (per run, default 10), RATE (rps, default 1000),
# ROUNDS (default 2), SKIP_BUILD=1 (use existing binaries; the floor proxy is
# then the newest target/release/deps/floorproxy-*), PORTICO_BIN (measure
# another build of portico) with RESULTS_SECTION (its section name in
# RESULTS.md, default `replicas`), PG_BIN (PostgreSQL's server binaries).
# The machine should be quiet: the run prints the load average before and after.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
WORK="$ROOT/target/load-replicas"
TOOLS="$ROOT/target/load-tools"
SECONDS_PER_RUN="${LOAD_SECONDS:-10}"
RATE="${RATE:-1000}"
ROUNDS="${ROUNDS:-2}"
log() { printf '[replicas] %s\n' "$*" >&2; }

rm -rf "$WORK"
mkdir -p "$WORK" "$TOOLS"

# --- 1. build and tools ------------------------------------------------------
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building portico (release)"
    cargo build --release --locked --bin portico
fi
bench_executable() {
    cargo bench --locked --bench "$1" --no-run --message-format=json 2>/dev/null \
        | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$1"
}
FLOOR=""
if [[ "${SKIP_BUILD:-0}" == 1 ]]; then
    # No cargo at all: a build would compile whatever src/ holds right now.
    FLOOR="$(ls -t "$ROOT"/target/release/deps/floorproxy-* 2>/dev/null | grep -v '\.d$' | head -1 || true)"
fi
[[ -x "$FLOOR" ]] || FLOOR="$(bench_executable floorproxy)"
[[ -x "$FLOOR" ]] || { log "could not build the floor proxy"; exit 1; }
PORTICO="${PORTICO_BIN:-$ROOT/target/release/portico}"
[[ -x "$PORTICO" ]] || { log "no portico binary at $PORTICO"; exit 1; }

OHA="$TOOLS/bin/oha"
if [[ ! -x "$OHA" ]]; then
    log "installing oha into $TOOLS (cargo install oha --locked; a few minutes, once)"
    cargo install oha --locked --root "$TOOLS" >"$TOOLS/install.log" 2>&1 \
        || { log "oha could not be installed (see $TOOLS/install.log)"; exit 1; }
fi
if ! command -v nginx >/dev/null; then
    log "installing nginx (apt-get)"
    apt-get install -y -qq nginx >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq nginx >/dev/null; }
fi
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[[ -x "$PG_BIN/initdb" ]] || { log "no PostgreSQL server binaries (apt-get install postgresql)"; exit 1; }

# As run.sh: dirty pages of a build, written back during the measurements,
# would compete with the databases' own writes.
sync
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
as_postgres() {
    if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# --- 2.–4. servers -----------------------------------------------------------
PIDS=()
SAMPLER_PID=""
PG_DIR=""
PG_PID=""
cleanup() {
    set +e
    [[ -n "$SAMPLER_PID" ]] && { kill "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null; }
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    if [[ -n "$PG_PID" ]]; then
        # Fast shutdown of the postmaster (by its own pid), then its launcher.
        local postmaster
        postmaster="$(head -1 "$PG_DIR/data/postmaster.pid" 2>/dev/null)"
        [[ -n "$postmaster" ]] && kill -INT "$postmaster" 2>/dev/null
        for _ in $(seq 300); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$PG_PID" 2>/dev/null && [[ -n "$postmaster" ]] && kill -KILL "$postmaster" 2>/dev/null
        wait "$PG_PID" 2>/dev/null
    fi
    [[ -n "$PG_DIR" ]] && rm -rf "$PG_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "PostgreSQL from $PG_BIN"
PG_DIR="$(mktemp -d /tmp/portico-replicas-pg.XXXXXX)"
[[ "$(id -u)" == 0 ]] && chown postgres:postgres "$PG_DIR"
as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 --no-sync \
    >"$WORK/initdb.log" 2>&1 || { log "initdb failed:"; tail -5 "$WORK/initdb.log" >&2; exit 1; }
PG_PORT="$(free_port)"
# fsync and synchronous_commit stated, not left to a config file: every
# stored turn waits for its commit to reach the disk. Lock waits longer than
# deadlock_timeout (1 s) are logged and counted in the report.
as_postgres "$PG_BIN/postgres" -D "$PG_DIR/data" -p "$PG_PORT" -k "$PG_DIR" \
    -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=300 \
    -c log_lock_waits=on \
    >"$WORK/postgres.log" 2>&1 &
PG_PID=$!
for _ in $(seq 300); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres && break
    kill -0 "$PG_PID" 2>/dev/null || break
    sleep 0.1
done
"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres \
    || { log "PostgreSQL did not start:"; tail -5 "$WORK/postgres.log" >&2; exit 1; }
psql_run() { "$PG_BIN/psql" -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }
psql_run -d postgres -c 'CREATE DATABASE portico'
PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/portico"

# Starts a server in the background; sets STARTED_URL from its first stdout line.
start_server() {
    local name="$1"; shift
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 200); do
        if grep -q 'listening on http://' "$WORK/$name.out" 2>/dev/null; then
            STARTED_URL="$(grep -o 'http://[^ ]*' "$WORK/$name.out" | head -1)"
            STARTED_PID=$pid
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    log "$name did not start:"; tail -5 "$WORK/$name.log" >&2; exit 1
}

start_server mock "$PORTICO" mock-backend --listen 127.0.0.1:0
MOCK="$STARTED_URL"
# One after the other: the first applies the migrations.
start_server replica_a "$PORTICO" serve --backend "$MOCK/v1" --listen 127.0.0.1:0 --db "$PG_URL"
REPLICA_A="$STARTED_URL"; REPLICA_A_PID=$STARTED_PID
start_server replica_b "$PORTICO" serve --backend "$MOCK/v1" --listen 127.0.0.1:0 --db "$PG_URL"
REPLICA_B="$STARTED_URL"; REPLICA_B_PID=$STARTED_PID
start_server replica_sqlite "$PORTICO" serve --backend "$MOCK/v1" --listen 127.0.0.1:0 --db "$WORK/portico.db"
REPLICA_SQLITE="$STARTED_URL"; REPLICA_SQLITE_PID=$STARTED_PID
start_server floor "$FLOOR" "$MOCK/v1" 127.0.0.1:0
FLOOR_URL="$STARTED_URL"; FLOOR_PID=$STARTED_PID

NGINX_DIR="$WORK/nginx"
mkdir -p "$NGINX_DIR"
LB_POSTGRES_PORT="$(free_port)"; LB_SQLITE_PORT="$(free_port)"; LB_FLOOR_PORT="$(free_port)"
hostport() { echo "${1#http://}"; }
cat >"$NGINX_DIR/nginx.conf" <<EOF
# Written by benches/load/replicas.sh for one run.
daemon off;
worker_processes 1;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $NGINX_DIR/client_body;
    proxy_temp_path $NGINX_DIR/proxy;
    fastcgi_temp_path $NGINX_DIR/fastcgi;
    uwsgi_temp_path $NGINX_DIR/uwsgi;
    scgi_temp_path $NGINX_DIR/scgi;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_buffering off;
    upstream portico_postgres {
        server $(hostport "$REPLICA_A");
        server $(hostport "$REPLICA_B");
        keepalive 64;
    }
    upstream portico_sqlite {
        server $(hostport "$REPLICA_SQLITE");
        keepalive 64;
    }
    upstream floor {
        server $(hostport "$FLOOR_URL");
        keepalive 64;
    }
    server { listen 127.0.0.1:$LB_POSTGRES_PORT; location / { proxy_pass http://portico_postgres; } }
    server { listen 127.0.0.1:$LB_SQLITE_PORT; location / { proxy_pass http://portico_sqlite; } }
    server { listen 127.0.0.1:$LB_FLOOR_PORT; location / { proxy_pass http://floor; } }
}
EOF
NGINX_ARGS=(-p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log")
nginx -t -q "${NGINX_ARGS[@]}"
nginx "${NGINX_ARGS[@]}" >"$WORK/nginx.out" 2>&1 &
PIDS+=("$!")
LB_POSTGRES="http://127.0.0.1:$LB_POSTGRES_PORT"
LB_SQLITE="http://127.0.0.1:$LB_SQLITE_PORT"
LB_FLOOR="http://127.0.0.1:$LB_FLOOR_PORT"
for _ in $(seq 200); do
    curl -sf -o /dev/null "$LB_POSTGRES/healthz" && curl -sf -o /dev/null "$LB_SQLITE/healthz" \
        && curl -sf -o /dev/null "$LB_FLOOR/v1/models" && break
    sleep 0.05
done
curl -sf -o /dev/null "$LB_POSTGRES/healthz" || { log "nginx did not start:"; tail -5 "$NGINX_DIR/error.log" >&2; exit 1; }
log "mock $MOCK; PostgreSQL $PG_URL; replicas $REPLICA_A $REPLICA_B; SQLite replica $REPLICA_SQLITE; floor $FLOOR_URL"
log "load balancer: PostgreSQL pair $LB_POSTGRES, SQLite replica $LB_SQLITE, floor $LB_FLOOR"

# --- 5. measurements ---------------------------------------------------------
CHAT_BODY="$WORK/chat.json"
echo '{"model":"mock","messages":[{"role":"user","content":"Hello there, how are you today?"}],"max_tokens":64}' >"$CHAT_BODY"

# The stored turn (run.sh's request): every request continues one response
# stored through the same load balancer.
stored_turn_body() {
    local lb="$1" out="$2" first_id
    first_id="$(curl -sf "$lb/v1/responses" -H 'content-type: application/json' \
        -d '{"model":"mock","input":"Remember the number 7.","store":true,"max_output_tokens":64}' \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
    echo "{\"model\":\"mock\",\"input\":\"Which number?\",\"store\":true,\"max_output_tokens\":64,\"previous_response_id\":\"$first_id\"}" >"$out"
    echo "$first_id"
}
STORED_POSTGRES_BODY="$WORK/stored-turn-postgres.json"
FIRST_POSTGRES_ID="$(stored_turn_body "$LB_POSTGRES" "$STORED_POSTGRES_BODY")"
STORED_SQLITE_BODY="$WORK/stored-turn-sqlite.json"
stored_turn_body "$LB_SQLITE" "$STORED_SQLITE_BODY" >/dev/null
# Both replicas must see the response one of them stored.
for replica in "$REPLICA_A" "$REPLICA_B"; do
    curl -sf -o /dev/null "$replica/v1/responses/$FIRST_POSTGRES_ID" \
        || { log "$replica does not see $FIRST_POSTGRES_ID: the replicas do not share the database"; exit 1; }
done

# CPU time processes have used, in microseconds (all their threads).
cpu_micros() {
    local tick total=0 pid
    tick="$(getconf CLK_TCK)"
    [[ $# -gt 0 ]] || { echo 0; return; }
    for pid in "$@"; do
        total=$(( total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0) ))
    done
    echo $(( total * 1000000 / tick ))
}
# The postmaster and its children (the backends serving the replicas' pools).
postgres_pids() {
    local postmaster
    postmaster="$(head -1 "$PG_DIR/data/postmaster.pid")"
    echo "$postmaster" $(pgrep -P "$postmaster" | tr '\n' ' ')
}

# PostgreSQL's counters for the database: transactions, WAL bytes written,
# WAL flushes to disk, rows read by sequential scans (a query whose cost grows
# with the tables shows there). Its statistics lag by up to a second: approximate.
pg_counters() {
    psql_run -d portico -F ' ' -c "SELECT (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'portico'),
        pg_current_wal_lsn() - '0/0', (SELECT wal_sync FROM pg_stat_wal),
        (SELECT coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables)" 2>/dev/null || echo '0 0 0 0'
}

# One fixed-rate run: NAME URL BODY SERVER_PIDS [DATABASE_PIDS] (space-separated
# lists). Results go to $WORK/NAME.json; the CPU the servers used per answered
# request during the measured part to $WORK/NAME.cpu (µs), the database's to
# $WORK/NAME.dbcpu, and with a database its counters per request to
# $WORK/NAME.pg (transactions, WAL bytes, WAL flushes, rows read by
# sequential scans).
fixed_rate() {
    local name="$1" url="$2" body="$3" servers="$4" database="${5:-}" before after db_before db_after pg_before=""
    log "$name: $RATE rps for ${SECONDS_PER_RUN}s → $url"
    echo "$name" >"$WORK/current-run"
    # Warm-up (connections, caches), not recorded.
    "$OHA" --no-tui -z 2s -q "$RATE" -c 64 -m POST -H 'content-type: application/json' \
        -D "$body" "$url" >/dev/null 2>&1 || true
    # shellcheck disable=SC2086 # pid lists
    before="$(cpu_micros $servers)"; db_before="$(cpu_micros $database)"
    [[ -n "$database" ]] && pg_before="$(pg_counters)"
    "$OHA" --no-tui --output-format json -z "${SECONDS_PER_RUN}s" -q "$RATE" -c 64 \
        --latency-correction -m POST -H 'content-type: application/json' -D "$body" "$url" \
        >"$WORK/$name.json" 2>"$WORK/$name.err"
    # shellcheck disable=SC2086
    after="$(cpu_micros $servers)"; db_after="$(cpu_micros $database)"
    per_request() {
        python3 -c 'import json, sys
codes = json.load(open(sys.argv[1])).get("statusCodeDistribution") or {}
print(round((int(sys.argv[3]) - int(sys.argv[2])) / max(sum(codes.values()), 1), 1))' "$WORK/$name.json" "$1" "$2"
    }
    per_request "$before" "$after" >"$WORK/$name.cpu" || true
    if [[ -n "$database" ]]; then
        per_request "$db_before" "$db_after" >"$WORK/$name.dbcpu" || true
        python3 -c 'import json, sys
codes = json.load(open(sys.argv[1])).get("statusCodeDistribution") or {}
answered = max(sum(codes.values()), 1)
before, after = sys.argv[2].split(), sys.argv[3].split()
print(" ".join(str(round((float(b) - float(a)) / answered, 2)) for a, b in zip(before, after)))' \
            "$WORK/$name.json" "$pg_before" "$(pg_counters)" >"$WORK/$name.pg" || true
    fi
    echo between >"$WORK/current-run"
    return 0
}

# Twice a second, what the replicas' connections are doing (state and wait
# event, from pg_stat_activity), tagged with the run: a transaction left open
# or a queue on a lock shows here.
echo between >"$WORK/current-run"
(
    while :; do
        run="$(cat "$WORK/current-run")"
        psql_run -d postgres -F ' ' -c "SELECT replace(coalesce(state, '-'), ' ', '_'), coalesce(wait_event_type, '-'), coalesce(wait_event, '-'), count(*)
            FROM pg_stat_activity WHERE datname = 'portico' AND pid <> pg_backend_pid() GROUP BY 1, 2, 3" 2>/dev/null \
            | sed "s/^/$run $(date +%s.%N) /" || true
        sleep 0.5
    done
) >"$WORK/pg-activity.txt" &
SAMPLER_PID=$!

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
RUNS=(stored_postgres stored_sqlite chat_floor chat_postgres)
for round in $(seq "$ROUNDS"); do
    order=("${RUNS[@]}")
    if (( round % 2 == 0 )); then order=(chat_postgres chat_floor stored_sqlite stored_postgres); fi
    for run in "${order[@]}"; do
        case "$run" in
        stored_postgres)
            fixed_rate "${run}_r$round" "$LB_POSTGRES/v1/responses" "$STORED_POSTGRES_BODY" \
                "$REPLICA_A_PID $REPLICA_B_PID" "$(postgres_pids)" ;;
        stored_sqlite)
            fixed_rate "${run}_r$round" "$LB_SQLITE/v1/responses" "$STORED_SQLITE_BODY" "$REPLICA_SQLITE_PID" ;;
        chat_floor)
            fixed_rate "${run}_r$round" "$LB_FLOOR/v1/chat/completions" "$CHAT_BODY" "$FLOOR_PID" ;;
        chat_postgres)
            fixed_rate "${run}_r$round" "$LB_POSTGRES/v1/chat/completions" "$CHAT_BODY" \
                "$REPLICA_A_PID $REPLICA_B_PID" "$(postgres_pids)" ;;
        esac
    done
done
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""

# What the databases hold and the cluster saw, for the report.
POSTGRES_ROWS="$(psql_run -d portico -c 'SELECT count(*) FROM responses' 2>/dev/null || echo '?')"
SQLITE_ROWS="$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from responses").fetchone()[0])' "$WORK/portico.db" 2>/dev/null || echo '?')"
POSTGRES_CONNECTIONS="$(psql_run -d postgres -F ' ' -c "SELECT count(*), count(*) FILTER (WHERE state LIKE 'idle in transaction%') FROM pg_stat_activity WHERE datname = 'portico'" 2>/dev/null || echo '? ?')"
POSTGRES_SETTINGS="$(psql_run -d postgres -F '|' -c "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit'), current_setting('max_connections')" 2>/dev/null || echo '?|?|?|?')"
POSTGRES_PROBLEMS="$(grep -cE 'ERROR|FATAL|PANIC' "$WORK/postgres.log" || true)"
POSTGRES_LOCK_WAITS="$(grep -c 'still waiting for' "$WORK/postgres.log" || true)"
NGINX_PROBLEMS="$(grep -cE '\[(error|crit|alert|emerg)\]' "$NGINX_DIR/error.log" || true)"

# --- 6. report ---------------------------------------------------------------
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD -- src migrations Cargo.toml 2>/dev/null || COMMIT="$COMMIT + uncommitted changes"
[[ -n "${PORTICO_BIN:-}" ]] && COMMIT="portico binary $PORTICO_BIN (script from $COMMIT)"
export WORK COMMIT LOAD_BEFORE LOAD_AFTER SECONDS_PER_RUN RATE ROUNDS POSTGRES_ROWS SQLITE_ROWS \
    POSTGRES_CONNECTIONS POSTGRES_SETTINGS POSTGRES_PROBLEMS POSTGRES_LOCK_WAITS NGINX_PROBLEMS
python3 - "$ROOT/benches/load" >"$WORK/replicas.md" <<'PYEOF'
import datetime, json, os, statistics, sys
sys.path.insert(0, sys.argv[1])
from report import fmt, machine, verdict

env = os.environ
work, rounds, rate = env["WORK"], int(env["ROUNDS"]), env["RATE"]
labels = {
    "stored_postgres": "Stored turn → LB → 2 replicas on PostgreSQL",
    "stored_sqlite": "Stored turn → LB → 1 replica on SQLite",
    "chat_floor": "Chat → LB → floor proxy (the floor)",
    "chat_postgres": "Chat → LB → 2 replicas on PostgreSQL",
}


def result(name):
    try:
        data = json.load(open(f"{work}/{name}.json"))
    except (OSError, ValueError):
        return None
    latency = data.get("latencyPercentiles") or {}
    codes = data.get("statusCodeDistribution") or {}
    failures = dict(data.get("errorDistribution") or {})
    # Requests still in flight when the run's time is up are not errors.
    unfinished = failures.pop("aborted due to deadline", 0)
    ok = codes.get("200", 0)
    seconds = (data.get("summary") or {}).get("total") or 0
    try:
        pg = [float(v) for v in open(f"{work}/{name}.pg").read().split()]
    except (OSError, ValueError):
        pg = None

    def number(suffix):
        try:
            return float(open(f"{work}/{name}.{suffix}").read())
        except (OSError, ValueError):
            return None
    ms = lambda value: value * 1000 if value is not None else None
    return {
        "p50": ms(latency.get("p50")), "p90": ms(latency.get("p90")), "p99": ms(latency.get("p99")),
        "max": ms((data.get("summary") or {}).get("slowest")),
        "rps": ok / seconds if seconds else None,
        "errors": sum(failures.values()), "non200": sum(c for code, c in codes.items() if code != "200"),
        "unfinished": unfinished, "cpu": number("cpu"), "dbcpu": number("dbcpu"), "pg": pg,
    }


results = {(run, r): result(f"{run}_r{r}") for run in labels for r in range(1, rounds + 1)}
rows = []
for run, label in labels.items():
    for r in range(1, rounds + 1):
        x = results[(run, r)]
        if x:
            rows.append(f"| {label} | {r} | {fmt(x['p50'])} | {fmt(x['p90'])} | {fmt(x['p99'])} | {fmt(x['max'], 1)} "
                        f"| {fmt(x['rps'], 0)} | {x['errors']} / {x['non200']} | {x['unfinished']} | {fmt(x['cpu'], 0)} | {fmt(x['dbcpu'], 0)} |")


def added(run):
    """p99 of `run` minus the floor's p99 of the same round, each round."""
    values = []
    for r in range(1, rounds + 1):
        x, floor = results[(run, r)], results[("chat_floor", r)]
        values.append(x["p99"] - floor["p99"] if x and floor and x["p99"] is not None and floor["p99"] is not None else None)
    return values


def added_row(label, run):
    values = added(run)
    known = [v for v in values if v is not None]
    median = statistics.median(known) if known else None
    return f"| {label} | " + " | ".join(fmt(v) for v in values) + f" | {fmt(median)} |", median


added_rows = [
    added_row("Stored turn, 2 replicas on PostgreSQL", "stored_postgres"),
    added_row("Stored turn, 1 replica on SQLite", "stored_sqlite"),
    added_row("Chat pass-through, 2 replicas on PostgreSQL", "chat_postgres"),
]
postgres_added = added_rows[0][1]
postgres_clean = all(x and x["errors"] == 0 and x["non200"] == 0
                     for (run, _), x in results.items() if run == "stored_postgres")
version, fsync, synchronous_commit, max_connections = (env["POSTGRES_SETTINGS"].split("|") + ["?"] * 4)[:4]
version = version.split()[0]
connections, idle_in_transaction = (env["POSTGRES_CONNECTIONS"].split() + ["?"] * 2)[:2]


def activity_peaks(run):
    """Per sample of `run`'s rounds: the most connections seen at once idle
    in a transaction, waiting on a lock, and active."""
    samples = {}
    try:
        for line in open(f"{work}/pg-activity.txt"):
            parts = line.split()
            if len(parts) != 6 or not parts[0].startswith(run + "_r"):
                continue
            name, at, state, wait_type, wait, count = parts
            sample = samples.setdefault(at, {"idle_tx": 0, "lock": 0, "active": 0})
            if state.startswith("idle_in_transaction"):
                sample["idle_tx"] += int(count)
            if wait_type == "Lock":
                sample["lock"] += int(count)
            if state == "active":
                sample["active"] += int(count)
    except (OSError, ValueError):
        return None
    if not samples:
        return None
    return {key: max(sample[key] for sample in samples.values()) for key in ("idle_tx", "lock", "active")}


def log_problems():
    """ERROR and WARN lines of the replicas' logs, by message, most frequent first."""
    counts = {}
    for name in ("replica_a", "replica_b", "replica_sqlite"):
        try:
            lines = open(f"{work}/{name}.log").read().splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("level") not in ("ERROR", "WARN"):
                continue
            message = entry.get("message", "?")
            if entry.get("summary"):
                message += f" ({entry['summary']})"
            if entry.get("error"):
                message += f": {entry['error']}"
            key = (name, entry["level"], message[:160])
            counts[key] = counts.get(key, 0) + 1
    return sorted(counts.items(), key=lambda item: -item[1])
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
seconds = env["SECONDS_PER_RUN"]
lines = [
    "## Replicas behind a load balancer (`bash benches/load/replicas.sh`)",
    "",
    f"- Date: {now}; commit {env.get('COMMIT', '?')}",
    f"- Machine: {machine()}",
    f"- Load average (1, 5, 15 min) before: {env['LOAD_BEFORE']}; after: {env['LOAD_AFTER']}",
    f"- Setup: nginx (1 worker, HTTP/1.1 keep-alive upstreams, 64 idle connections each, no buffering) on three ports in front of "
    f"two `portico serve` replicas on one PostgreSQL {version} database (round robin), one `portico serve` on SQLite, and the floor "
    f"proxy (benches/load/floor.rs); all on `portico mock-backend` (no delay). PostgreSQL: fsync={fsync}, "
    f"synchronous_commit={synchronous_commit}, max_connections={max_connections}, a fresh cluster in a temporary folder.",
    f"- Tool: oha at {rate} rps, {seconds} s per run after a 2 s warm-up, 64 connections, latency from each request's scheduled "
    f"start; the four runs repeated {rounds} times, in reverse order every other round. Stored turn: run.sh's request "
    "(store=true, previous_response_id → a response stored through the same load balancer). The floor answers the chat request "
    "(the mock has no Responses API): the backend call a stored turn makes, through the same load balancer and one more hop, with "
    "no gateway work. Client, nginx, PostgreSQL, the replicas, the floor and the mock share the cores.",
    "",
    "| scenario | round | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | throughput (rps) | errors / non-200 | unfinished at the deadline | CPU per request: servers (µs) | CPU per request: PostgreSQL (µs) |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    *rows,
    "",
    "CPU per request: of the servers behind the load balancer (both replicas for the PostgreSQL pair), and of PostgreSQL's "
    "processes (postmaster, the replicas' connections, WAL writer, checkpointer…); nginx and the mock not counted.",
    "",
    "| PostgreSQL per request (its statistics, approximate) | round | transactions | WAL bytes | WAL flushes to disk | rows read by sequential scans |",
    "|---|---|---|---|---|---|",
    *[f"| {labels[run]} | {r} | {fmt(x['pg'][0], 2)} | {fmt(x['pg'][1], 0)} | {fmt(x['pg'][2], 3)} | {fmt(x['pg'][3], 0)} |"
      for run in ("stored_postgres", "chat_postgres") for r in range(1, rounds + 1)
      if (x := results[(run, r)]) and x["pg"] and len(x["pg"]) == 4],
    "",
    "| added p99 over the floor of the same round (ms) | " + " | ".join(f"round {r}" for r in range(1, rounds + 1)) + " | median |",
    "|---|" + "---|" * (rounds + 1),
    *[row for row, _ in added_rows],
    "",
    f"| target (reported, not a gate) | measured | |",
    "|---|---|---|",
    f"| Stored turn on PostgreSQL, {rate} rps: added p99 ≤ 3 ms over the floor, no errors | {fmt(postgres_added)} ms (median of rounds) "
    f"| {verdict(postgres_added is not None and postgres_added <= 3 and postgres_clean)} |",
    "",
    "| after the run | value |",
    "|---|---|",
    f"| Responses stored: PostgreSQL / SQLite | {env['POSTGRES_ROWS']} / {env['SQLITE_ROWS']} |",
    f"| Connections to the database held by the two replicas / of them idle in a transaction | {connections} / {idle_in_transaction} |",
    *[f"| During the PostgreSQL pair's {kind} runs, at most at once (sampled twice a second): connections active / waiting on a lock / idle in a transaction "
      f"| {peaks['active']} / {peaks['lock']} / {peaks['idle_tx']} |"
      for run, kind in (("stored_postgres", "stored-turn"), ("chat_postgres", "chat")) if (peaks := activity_peaks(run))],
    f"| Lock waits over 1 s in PostgreSQL's log; its ERROR/FATAL lines; errors in nginx's log | "
    f"{env['POSTGRES_LOCK_WAITS']}; {env['POSTGRES_PROBLEMS']}; {env['NGINX_PROBLEMS']} |",
    *[f"| {name} log, {level}: {message.replace('|', '/')} | {count} lines |" for (name, level, message), count in log_problems()[:8]],
]
print("\n".join(lines))
PYEOF
python3 "$ROOT/benches/load/report.py" "$ROOT/benches/RESULTS.md" section "${RESULTS_SECTION:-replicas}" <"$WORK/replicas.md"
cat "$WORK/replicas.md"
