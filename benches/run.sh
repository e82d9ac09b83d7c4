#!/usr/bin/env bash
# Runs every benchmark of the workspace in one go and writes BENCHMARKS.md.
#
#   benches/run.sh           full run (about 30 minutes on 2 cores); rewrites BENCHMARKS.md
#   benches/run.sh --quick   smoke run for CI; writes target/bench/BENCHMARKS.quick.md
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
[ "${1:-}" = "--quick" ] && quick=true
# Binaries live where cargo puts them, CARGO_TARGET_DIR included.
target="${CARGO_TARGET_DIR:-target}"
out="$target/bench"
mkdir -p "$out"
results="$out/results.txt"
: > "$results"

if $quick; then
    criterion_args=(--warm-up-time 0.2 --measurement-time 0.5)
    http_rounds=1; http_seconds=1
    compile_rounds=1
    report="$out/BENCHMARKS.quick.md"
else
    criterion_args=(--warm-up-time 2 --measurement-time 6)
    http_rounds=3; http_seconds=10
    compile_rounds=3
    report=BENCHMARKS.md
fi

step() { printf '\n==> %s\n' "$*" >&2; }

step "1-2. move decisions and responses (criterion)"
rm -rf "$target/criterion/decide" "$target/criterion/check" "$target/criterion/respond"
cargo bench -q -p conflict-benches --bench decide --bench respond -- "${criterion_args[@]}" >&2
python3 - "$results" "$target" <<'PY'
import json, pathlib, sys
with open(sys.argv[1], "a") as out:
    for estimates in sorted(pathlib.Path(sys.argv[2], "criterion").glob("*/*/new/estimates.json")):
        group, name = estimates.parts[-4], estimates.parts[-3]
        if group not in ("decide", "check", "respond"):
            continue
        bench = json.loads((estimates.parent / "benchmark.json").read_text())
        median = json.loads(estimates.read_text())["median"]["point_estimate"]
        out.write(f"criterion\t{group}\t{bench['function_id']}\t{median}\n")
PY

step "3. HTTP: the crate's move endpoint against a hand-written handler (wrk)"
if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        (apt-get install -y -q wrk || { apt-get update -q && apt-get install -y -q wrk; }) >&2
    else
        echo "wrk is missing: apt-get install wrk" >&2; exit 1
    fi
fi
cargo build -q --release -p conflict-benches --bin move-server
port=39871
for round in $(seq "$http_rounds"); do
    for mode in conflict hand; do
        # server on core 0, load generator on core 1: they do not steal each other's time
        taskset -c 0 "$target/release/move-server" "$mode" "$port" & server=$!
        for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
        line=$(taskset -c 1 wrk -t1 -c16 -d"${http_seconds}s" -s benches/doors.lua "http://127.0.0.1:$port" | grep '^RESULT')
        kill "$server"; wait "$server" 2>/dev/null || true
        echo "http	$mode	$round	${line#RESULT }" >> "$results"
    done
done

step "3b. the whole orders service against the same service written by hand (wrk)"
cargo build -q --release -p conflict-examples --example orders
cargo build -q --release -p conflict-benches --bin orders-by-hand
port=39872
seed() { # an order 1, shipped: GET and the 409 read it
    curl -sf -o /dev/null -X POST "http://127.0.0.1:$port/orders" -H 'content-type: application/json' \
        -d '{"item": "lamp", "quantity": 1}'
    curl -sf -o /dev/null -X POST "http://127.0.0.1:$port/orders/1/pay"
    curl -sf -o /dev/null -X POST "http://127.0.0.1:$port/orders/1/ship" \
        -H 'content-type: application/json' -d '{"tracking_number": "1Z999AA1"}'
}
load() { # mode, seconds -> one RESULT line
    MODE="$1" THREADS=1 taskset -c 1 wrk -t1 -c32 -d"$2s" -s benches/service.lua \
        "http://127.0.0.1:$port" | grep '^RESULT'
}
for round in $(seq "$http_rounds"); do
    for impl in conflict hand; do
        if [ "$impl" = conflict ]; then
            server_bin=("$target/release/examples/orders")
        else
            server_bin=("$target/release/orders-by-hand")
        fi
        # Both as users run them: default settings, default logging, in
        # memory (the example would keep its orders in DATABASE_URL).
        env -u DATABASE_URL taskset -c 0 "${server_bin[@]}" --addr "127.0.0.1:$port" > /dev/null 2>&1 & server=$!
        for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
        seed
        for mode in get conflict; do
            line=$(load "$mode" "$http_seconds")
            echo "service	$mode	$impl	$round	${line#RESULT }" >> "$results"
        done
        # Pending orders for `pay`: created for twice as long as they are paid.
        load create $((http_seconds * 2)) > /dev/null
        line=$(load pay "$http_seconds")
        echo "service	pay	$impl	$round	${line#RESULT }" >> "$results"
        kill "$server"; wait "$server" 2>/dev/null || true
    done
done

step "4. compile time: 20 derived machines against the same machines by hand"
gen=target/compile-bench
rm -rf "$gen"
python3 benches/gen_machines.py "$gen" conflict-runtime
check() { # crate, target dir -> seconds
    local start end
    start=$(date +%s.%N)
    (cd "$gen/$1" && CARGO_TARGET_DIR="$2" cargo check -q --offline 2>/dev/null)
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}
for round in $(seq "$compile_rounds"); do
    for crate in derived hand; do
        rm -rf "$gen/target-$crate"
        echo "compile	$crate	cold	$(check "$crate" "$PWD/$gen/target-$crate")" >> "$results"
        for _ in 1 2 3; do
            touch "$gen/$crate/src/lib.rs"
            echo "compile	$crate	warm	$(check "$crate" "$PWD/$gen/target-$crate")" >> "$results"
        done
    done
done
for moves in 10 100 1000; do
    check "moves-$moves" "$PWD/$gen/target-moves" > /dev/null
    for _ in 1 2 3; do
        touch "$gen/moves-$moves/src/lib.rs"
        echo "compile	moves-$moves	warm	$(check "moves-$moves" "$PWD/$gen/target-moves")" >> "$results"
    done
done
cargo test -q -p conflict-macros --lib expansion_grows_linearly -- --nocapture 2>/dev/null \
    | sed -n 's/^EXPANSION moves=\([0-9]*\) tokens=\([0-9]*\)/expansion\t\1\t\2/p' >> "$results"

step "5. SQL: moves on your tables (Postgres and SQLite), and pgbench's anchor"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
if psql "$DATABASE_URL" -qc 'select 1' >/dev/null 2>&1; then
    cargo build -q --release -p conflict-benches --bin pg-moves
    if $quick; then pg_args=(1 1 8); else pg_args=(6 1 8 32); fi
    "$target/release/pg-moves" "${pg_args[@]}" >> "$results"
    # pgbench runs the same statement by hand, on a table of its own.
    schema="pgbench_conflict_$$"
    psql "$DATABASE_URL" -q <<SQL
CREATE SCHEMA $schema;
SET search_path = $schema;
CREATE TABLE bench_doors (id bigserial PRIMARY KEY, name text NOT NULL,
                          state text NOT NULL, version bigint NOT NULL DEFAULT 1);
INSERT INTO bench_doors (name, state) SELECT 'door', 'closed' FROM generate_series(1, 1000);
CREATE TABLE conflict_history (kind text NOT NULL, id text NOT NULL, version bigint NOT NULL,
    from_state text NOT NULL, to_state text NOT NULL, action text,
    at timestamptz NOT NULL DEFAULT now(), actor text, reason text, metadata jsonb,
    PRIMARY KEY (kind, id, version));
SQL
    if $quick; then pgbench_seconds=1; else pgbench_seconds=10; fi
    tps=$(PGOPTIONS="-c search_path=$schema" pgbench -n -c 32 -j 2 -T "$pgbench_seconds" \
              -f benches/hand-move.sql "$DATABASE_URL" 2>/dev/null \
          | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    echo "pgbench	32	${tps:-0}" >> "$results"
    psql "$DATABASE_URL" -qc "DROP SCHEMA $schema CASCADE"
else
    echo "no Postgres answers at $DATABASE_URL: part 5 skipped" >&2
fi

step "6. the outbox: moves with and without it, delivery, latency, JetStream"
if psql "$DATABASE_URL" -qc 'select 1' >/dev/null 2>&1; then
    cargo build -q --release -p conflict-benches --bin outbox
    if $quick; then outbox_args=(1 500 1 8); else outbox_args=(10 20000 1 8 32); fi
    "$target/release/outbox" "${outbox_args[@]}" >> "$results"
    if ! $quick; then
        # Without the outbox: part 5's binary built at the commit before it
        # (3ee28c3), its `store` figures only.
        before="$out/before-outbox"
        git worktree remove --force "$before" 2>/dev/null || true
        git worktree add -f --detach "$before" 3ee28c3 >&2
        (cd "$before" && CARGO_TARGET_DIR="$PWD/../before-outbox-target" \
            cargo build -q --release -p conflict-benches --bin pg-moves)
        "$out/before-outbox-target/release/pg-moves" 10 1 8 32 \
            | sed -n 's/^pg\tstore\t/before\t/p' >> "$results"
        git worktree remove --force "$before"
    fi
else
    echo "no Postgres answers at $DATABASE_URL: part 6 skipped" >&2
fi

step "7. deadlines: made per second by one and two schedulers, lag, an idle scheduler's queries"
if psql "$DATABASE_URL" -qc 'select 1' >/dev/null 2>&1; then
    cargo build -q --release -p conflict-benches --bin deadlines
    if $quick; then deadline_args=(200 50 1 1); else deadline_args=(5000 200 10 10); fi
    "$target/release/deadlines" "${deadline_args[@]}" >> "$results"
else
    echo "no Postgres answers at $DATABASE_URL: part 7 skipped" >&2
fi

step "report"
python3 benches/report.py "$results" "$report" "$quick"
echo "wrote $report" >&2
