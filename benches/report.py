#!/usr/bin/env python3
"""Turns benches/run.sh's raw results into BENCHMARKS.md: medians and ratios."""
import datetime
import platform
import statistics
import subprocess
import sys
from collections import defaultdict

results, report, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "true"

criterion = defaultdict(dict)
http = defaultdict(list)
compile_times = defaultdict(list)
expansion = {}
postgres = defaultdict(dict)
refusals = {}
bulk = {}
listing = {}
sqlite = {}
pgbench = {}
outbox = defaultdict(dict)
before_outbox = {}
delivered = {}
latency = None
jetstream = {}
fired = {}
lag = None
idle = None
service = defaultdict(lambda: defaultdict(list))
for line in open(results):
    kind, *rest = line.rstrip("\n").split("\t")
    if kind == "criterion":
        group, name, ns = rest
        criterion[group][name] = float(ns)
    elif kind == "http":
        mode, _round, fields = rest
        http[mode].append(dict(f.split("=") for f in fields.split()))
    elif kind == "compile":
        crate, temperature, seconds = rest
        compile_times[(crate, temperature)].append(float(seconds))
    elif kind == "expansion":
        expansion[int(rest[0])] = int(rest[1])
    elif kind == "service":
        mode, impl, _round, fields = rest
        service[mode][impl].append(dict(f.split("=") for f in fields.split()))
    elif kind == "pg":
        mode, clients, round_, rate = rest
        postgres[int(clients)].setdefault(mode, {})[int(round_)] = float(rate)
    elif kind == "refusals":
        mode, clients, rate, wal = rest
        refusals[mode] = (int(clients), float(rate), float(wal))
    elif kind == "bulk":
        mode, count, seconds = rest
        bulk[mode] = (int(count), float(seconds))
    elif kind == "list":
        mode, rows, micros = rest
        listing[mode] = (int(rows), float(micros))
    elif kind == "sqlite":
        clients, rate = rest
        sqlite[int(clients)] = float(rate)
    elif kind == "pgbench":
        clients, tps = rest
        pgbench[int(clients)] = float(tps)
    elif kind == "outbox":
        mode, clients, rate = rest
        outbox[int(clients)][mode] = float(rate)
    elif kind == "before":
        clients, rate = rest
        before_outbox[int(clients)] = float(rate)
    elif kind == "delivered":
        dispatchers, events, rate = rest
        delivered[int(dispatchers)] = (int(events), float(rate))
    elif kind == "latency":
        rate, p50, p99, samples = rest
        latency = (int(rate), float(p50), float(p99), int(samples))
    elif kind == "fired":
        schedulers, count, rate = rest
        fired[int(schedulers)] = (int(count), float(rate))
    elif kind == "lag":
        rate, p50, p99, samples = rest
        lag = (int(rate), float(p50), float(p99), int(samples))
    elif kind == "idle":
        seconds, queries = rest
        idle = (int(seconds), float(queries))
    elif kind == "jetstream":
        at_once, events, rate = rest
        jetstream[int(at_once)] = (int(events), float(rate))


def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
out = []
w = out.append
w("# Benchmarks\n")
if quick:
    w("**Smoke run (`--quick`): too short to quote; run `benches/run.sh` for numbers.**\n")
w(f"Produced by `benches/run.sh` in one run on {datetime.date.today().isoformat()}: "
  f"{cpu()}, {cores} cores, {rustc}. Ratios are against the baseline named in each "
  "table (below 1.00 is faster). Medians throughout.\n")


def ratio_table(group, baseline, unit_per, title, note):
    rows = criterion.get(group, {})
    if not rows:
        return
    base = rows[baseline]
    w(f"## {title}\n")
    w(note + "\n")
    w(f"| implementation | median per {unit_per} | ratio to {baseline} |")
    w("| --- | ---: | ---: |")
    per = 4096 if group in ("decide", "check") else 1
    for name, ns in sorted(rows.items(), key=lambda kv: kv[1]):
        w(f"| {name} | {ns / per:.2f} ns | {ns / base:.2f} |")
    w("")


ratio_table("decide", "hand-written match", "decision",
            "1. Deciding a move by action",
            "The `orders` machine (6 states, 6 actions) decides a fixed pseudo-random stream of 4096 "
            "(state, action) pairs, about half of them illegal, so branch prediction cannot learn it. "
            "`conflict` is the generated `const fn target`, one load from a `const` table. "
            "`state-machines` 0.34 needs Rust 1.99 and does not build here.")
ratio_table("check", "hand-written match", "check",
            "1b. Checking a move by target state",
            "`can_transition_to(from, to)` on the same stream turned into (state, target) pairs: the "
            "check behind `PATCH`. The generated table keeps one bit per target (so a 200-state machine "
            "stays small); the check is a load and a bit test.")
ratio_table("respond", "200 order", "response",
            "2. The 409 path against the 200 path",
            "Building and serializing the 409 problem body of `cancel` on a shipped order, against "
            "serializing the order itself with its `ETag`, both as far as an `axum` `Response`.")

if http:
    w("## 3. HTTP: a move endpoint through the crate against a hand-written handler\n")
    w("`POST /doors/{id}/{action}` on 1000 doors of a cyclic machine (open, close, lock, unlock), "
      "random ids and actions, so about two thirds of the answers are 409 conflicts. `conflict`: "
      "`MoveRequest` + `MemoryStore` + `Versioned` (ETag) + problem bodies. `hand`: an axum handler "
      "with `Path<(String, String)>`, a `Mutex<HashMap>`, a `match` and `serde_json::json!` bodies. "
      "Server pinned to core 0, `wrk -t1 -c16` to core 1, runs alternating.\n")
    w("| handler | requests/s | p50 | p90 | p99 | 200s | 409s | ratio (requests/s) |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    med = lambda runs, key: statistics.median(float(r[key]) for r in runs)
    base = med(http["hand"], "rps")
    for mode in ("conflict", "hand"):
        runs = http[mode]
        w(f"| {mode} | {med(runs, 'rps'):,.0f} | {med(runs, 'p50'):.0f} µs | {med(runs, 'p90'):.0f} µs | "
          f"{med(runs, 'p99'):.0f} µs | {sum(int(r['ok']) for r in runs):,} | "
          f"{sum(int(r['conflicts']) for r in runs):,} | {med(runs, 'rps') / base:.2f} |")
    w(f"\nTarget: at least 0.90 of the hand-written throughput. Runs of each: {len(http['hand'])}.\n")

if service:
    w("## 3b. The whole `orders` service against the same service written by hand\n")
    w("What users run: `cargo run --release --example orders` as shipped (in-memory store, idempotency "
      "layer, 64 KiB body limit, `TraceLayer` and catch-panic layers, default logging: no line per "
      "request), against `benches/src/bin/orders-by-hand.rs`, the same routes, statuses, bodies, "
      "history, guard, permission and layers written with axum alone, and the same work beside "
      "the requests: every move is also an event that a background task follows (the example: "
      "its durable-handler dispatcher, telling the customer when an order ships; by hand: a log "
      "under the orders' lock and a task woken per move), every order gets a deadline (30 minutes, "
      "none due during the run) that a background task makes (the example: its scheduler; by "
      "hand: a set ordered by due time), and `get` shows the order's pending deadline and the "
      "moves the caller may make now (`actions`, a `Link` header each, `Vary`; the example runs "
      "its guards and permissions to list them). `get`: `GET /orders/1` "
      "(200 with `ETag`); `pay`: `POST /orders/{id}/pay` on a fresh pending order each time (a legal "
      "move through the credit guard, recording the payment on the order and the move in the history); `conflict`: `POST /orders/1/cancel` on a shipped order (409 "
      "problem body listing what is allowed). Server pinned to core 0, `wrk -t1 -c32` to core 1, "
      "services alternating.\n")
    w("| request | conflict requests/s | hand requests/s | ratio | conflict p99 | hand p99 | answers as expected |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    med = lambda runs, key: statistics.median(float(r[key]) for r in runs)
    expected = {"get": "ok", "pay": "ok", "conflict": "conflicts"}
    for mode in ("get", "pay", "conflict"):
        if mode not in service:
            continue
        runs = service[mode]
        ours, hand = runs["conflict"], runs["hand"]
        total = lambda rs, key: sum(int(r[key]) for r in rs)
        answers = " and ".join(
            f"{name}: {total(rs, expected[mode]):,} of {total(rs, 'ok') + total(rs, 'conflicts') + total(rs, 'other'):,}"
            for name, rs in (("conflict", ours), ("hand", hand)))
        w(f"| {mode} | {med(ours, 'rps'):,.0f} | {med(hand, 'rps'):,.0f} | "
          f"{med(ours, 'rps') / med(hand, 'rps'):.2f} | {med(ours, 'p99'):.0f} µs | {med(hand, 'p99'):.0f} µs | {answers} |")
    w(f"\nGoal: at least 0.90 on each request. Runs of each: {len(service['get']['hand'])}.")
    ratios = {mode: med(service[mode]["conflict"], "rps") / med(service[mode]["hand"], "rps")
              for mode in ("get", "pay", "conflict") if mode in service}
    missed = [f"{mode} ({ratio:.2f})" for mode, ratio in ratios.items() if ratio < 0.90]
    w("In this run: " + ("met on every request.\n" if not missed else "missed on " + ", ".join(missed) + ".\n"))

if compile_times:
    w("## 4. Compile time\n")
    w("`cargo check` of a crate with 20 machines (8 states, 12 moves each) written with "
      "`#[derive(StateMachine)]`, against the same machines with the same trait impls written by hand. "
      "Cold: an empty target directory, dependencies included (the derive brings `syn`, `quote`, "
      "`proc-macro2`). Warm: the crate alone after touching its source.\n")
    w("| crate | cold | warm | ratio cold | ratio warm |")
    w("| --- | ---: | ---: | ---: | ---: |")
    m = lambda crate, t: statistics.median(compile_times[(crate, t)])
    for crate in ("derived", "hand"):
        w(f"| {crate} | {m(crate, 'cold'):.2f} s | {m(crate, 'warm'):.2f} s | "
          f"{m(crate, 'cold') / m('hand', 'cold'):.2f} | {m(crate, 'warm') / m('hand', 'warm'):.2f} |")
    w("\nTarget: within 1.5x of hand-written on cold check.\n")
    w("Growth: one machine of 200 states, with 10, 100 and 1000 moves (20 action names). "
      "Warm `cargo check`, and the size of the expansion in tokens (`conflict-macros` test "
      "`expansion_grows_linearly_with_moves`, which also fails if the cost per move grows).\n")
    w("| moves | warm check | expansion tokens |")
    w("| ---: | ---: | ---: |")
    for moves in (10, 100, 1000):
        w(f"| {moves} | {m(f'moves-{moves}', 'warm'):.2f} s | {expansion.get(moves, 0):,} |")
    w("")

if postgres:
    w("## 5. Moves on your tables: Postgres and SQLite\n")
    w("1 000 doors in a table of the benchmark's own (`bench_doors(id bigserial, name, state, version)`), "
      "local Postgres with default settings, a schema of its own. Every move legal: each client owns "
      "its doors and opens and closes them in turn. `store`: `PgStore::apply` (the conditional `UPDATE`, "
      "here of a one-pair move, its from and to states bound as texts, and the history row, in one "
      "statement that also answers the row when nothing moves). `hand`: the "
      "conditional `UPDATE ... WHERE id = $1 AND state = ANY($2) RETURNING *` and the history `INSERT` "
      "in one statement, written by hand knowing the from state, answering the new row as the store "
      "does (a service sends it back). Both through sqlx from the same Rust process. At each client "
      "count the two run in rounds, the order alternating (store then hand, hand then store, ...), "
      "each run on every door closed, an empty history table and a fresh checkpoint; the table shows "
      "each mode's median round, and the ratio of each round's pair.\n")
    w("| clients | rounds | store (median) | hand (median) | ratio of medians | ratios by round |")
    w("| ---: | ---: | ---: | ---: | ---: | --- |")
    for clients in sorted(postgres):
        store_rounds = postgres[clients].get("store", {})
        hand_rounds = postgres[clients].get("hand", {})
        one = statistics.median(store_rounds.values()) if store_rounds else 0
        tx = statistics.median(hand_rounds.values()) if hand_rounds else 0
        by_round = ", ".join(f"{store_rounds[r] / hand_rounds[r]:.2f}"
                             for r in sorted(store_rounds) if hand_rounds.get(r))
        w(f"| {clients} | {len(store_rounds)} | {one:,.0f}/s | {tx:,.0f}/s | "
          f"{one / tx if tx else 0:.2f} | {by_round} |")
    w("\nThe ratio is throughput (above 1.00 is faster). Goal: at least 0.90 at every client count.")
    missed = []
    for clients in sorted(postgres):
        one = postgres[clients].get("store", {})
        tx = postgres[clients].get("hand", {})
        if one and tx:
            ratio = statistics.median(one.values()) / statistics.median(tx.values())
            if ratio < 0.90:
                missed.append(f"{clients} clients ({ratio:.3f})")
    w("In this run the ratio of medians " + ("misses it at " + ", ".join(missed) if missed
                                              else "meets it at every client count") + ".")
    if pgbench:
        for clients, tps in sorted(pgbench.items()):
            w(f"The anchor: pgbench running a leaner hand-written statement (the `UPDATE` and the history "
              f"`INSERT`, answering nothing) on random doors with {clients} clients "
              f"(`benches/hand-move.sql`, no Rust in the loop): {tps:,.0f} moves/s.")
    w("")
    if refusals:
        w("Refusals (`unlock` on closed doors, every move illegal), and the WAL each wrote "
          "(`pg_current_wal_lsn()` before and after, divided by the refusals; other activity of the "
          "server counts too):\n")
        w("| mode | clients | refusals/s | WAL bytes per refusal |")
        w("| --- | ---: | ---: | ---: |")
        for mode in ("store", "hand"):
            if mode in refusals:
                clients, rate, wal = refusals[mode]
                w(f"| {mode} | {clients} | {rate:,.0f} | {wal:.1f} |")
        w("")
    if bulk:
        w("10 000 doors opened, one client: `apply_each` in 10 batches of 1 000 (one statement each), "
          "against `apply` one door at a time:\n")
        w("| mode | seconds | moves/s |")
        w("| --- | ---: | ---: |")
        for mode in ("apply_each", "single"):
            if mode in bulk:
                count, seconds = bulk[mode]
                w(f"| {mode} | {seconds:.3f} | {count / seconds:,.0f} |")
        if "apply_each" in bulk and "single" in bulk:
            w(f"\nBulk is {bulk['single'][1] / bulk['apply_each'][1]:.1f}x faster.\n")
    if listing:
        w("Listing one state out of 1 000 000 rows (1 in 100 locked): 50 pages of 100 through "
          "`PgStore::list` (keyset: `state = .. AND id > .. ORDER BY id LIMIT ..`), with an index on "
          "`(state, id)`, as the example's migration creates, and without it:\n")
        w("| index | per page |")
        w("| --- | ---: |")
        for mode in ("index", "no index"):
            if mode in listing:
                w(f"| {mode} | {listing[mode][1] / 1000:.2f} ms |")
        w("")
    if sqlite:
        w("`SqliteStore` on a file in WAL mode (a `BEGIN IMMEDIATE` transaction per move: read, "
          "conditional `UPDATE ... RETURNING`, history `INSERT`), the same legal moves:\n")
        w("| clients | moves/s |")
        w("| ---: | ---: |")
        for clients, rate in sorted(sqlite.items()):
            w(f"| {clients} | {rate:,.0f} |")
        w("")

if outbox:
    w("## 6. The outbox\n")
    w("Part 5's legal moves through `PgStore::apply`, on the same kind of table. `before the outbox`: "
      "part 5's binary built at the commit before the outbox (3ee28c3: no event columns, no NOTIFY). "
      "`no reader`: this commit, every move an event, nothing reading them. `dispatching`: the same, "
      "while a dispatcher (another pool: another instance) places every event and delivers it to a "
      "durable handler that does nothing: the whole cost of a durable effect but the effect, on the "
      "same 2 cores as the database and the clients.\n")
    w("| clients | before the outbox | no reader | ratio | dispatching | ratio |")
    w("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for clients in sorted(outbox):
        off = before_outbox.get(clients, 0)
        quiet = outbox[clients].get("no reader", 0)
        busy = outbox[clients].get("dispatching", 0)
        ratio = lambda on: f"{on / off:.2f}" if off else "n/a"
        w(f"| {clients} | {off:,.0f}/s | {quiet:,.0f}/s | {ratio(quiet)} | {busy:,.0f}/s | {ratio(busy)} |")
    w("\nThe ratios are throughput against the same moves before the outbox (above 1.00 is faster). "
      "Goal: at most 10% cost (a ratio of at least 0.90).\n")
    verdict = []
    for mode in ("no reader", "dispatching"):
        ratios = [(c, outbox[c].get(mode, 0) / before_outbox[c]) for c in sorted(outbox)
                  if before_outbox.get(c)]
        if not ratios:
            continue
        missed = [f"{c} clients ({r:.2f})" for c, r in ratios if r < 0.90]
        if missed:
            verdict.append(f"`{mode}` misses it at " + ", ".join(missed))
        else:
            verdict.append(f"`{mode}` meets it at every client count")
    if verdict:
        w("In this run: " + "; ".join(verdict) + ". A dispatcher that reads and settles every event "
          "shares the 2 cores and the database with the moves it follows; on separate machines "
          "it would not take from the clients' CPU.\n")
    if delivered:
        events = next(iter(delivered.values()))[0]
        w(f"Delivery: {events:,} events committed beforehand, then delivered to a handler that does "
          "nothing (each delivery claimed under a lease with `FOR UPDATE SKIP LOCKED`, run, and settled):\n")
        w("| dispatchers | events/s |")
        w("| ---: | ---: |")
        for dispatchers, (_, rate) in sorted(delivered.items()):
            w(f"| {dispatchers} | {rate:,.0f} |")
        w("")
    if latency:
        rate, p50, p99, samples = latency
        w(f"Latency from commit to handler: one move every {1000 / rate:.0f} ms ({samples} moves), "
          "from the history row's `at` to the handler's start, a dispatcher in another pool woken by "
          f"`LISTEN`: p50 {p50:.1f} ms, p99 {p99:.1f} ms.\n")
    if jetstream:
        events = next(iter(jetstream.values()))[0]
        w(f"NATS JetStream (the machine's own server): {events:,} events committed beforehand, then "
          "relayed by one dispatcher, each publish acknowledged by the stream; `at once` is the "
          "dispatcher's `concurrency`:\n")
        w("| at once | events/s |")
        w("| ---: | ---: |")
        for at_once, (_, rate) in sorted(jetstream.items()):
            w(f"| {at_once} | {rate:,.0f} |")
        w("")

if fired or lag or idle:
    w("## 7. Deadlines\n")
    w("Doors that close by themselves a second after they open (`with_deadline`), on Postgres: the "
      "deadline row is written by the move's own statement; a `Scheduler` claims due ones "
      "(`FOR UPDATE SKIP LOCKED`, under a lease) and makes each as an ordinary move through the "
      "engine, conditional on the version the deadline was set at.\n")
    if fired:
        count = next(iter(fired.values()))[0]
        w(f"Made per second: {count:,} deadlines due at once (a `ManualClock` moved past them), "
          "made by one scheduler, then as many more by two (two pools: two instances); every one "
          "made exactly once (the binary fails otherwise):\n")
        w("| schedulers | deadlines/s |")
        w("| ---: | ---: |")
        for schedulers, (_, rate) in sorted(fired.items()):
            w(f"| {schedulers} | {rate:,.0f} |")
        w("")
    if lag:
        rate, p50, p99, samples = lag
        w(f"Lag from due time to the move: {rate} doors opened per second for {samples} doors, each "
          "due a second later, one scheduler running on the system clock; from each deadline's due "
          f"time to the `at` of its move's history row: p50 {p50:.1f} ms, p99 {p99:.1f} ms.\n")
    if idle:
        seconds, queries = idle
        w(f"An idle scheduler (nothing due, {seconds} s): {queries:.2f} queries per second more than "
          "the database ran without it. It looks at the soonest deadline's time or after the "
          "shortest declared deadline, whichever is first, and at least once a minute: here the "
          "deadlines are a second long, so it looks once a second (a claim and a `min(next_at)`); "
          "with the example's 30-minute window it looks once a minute.\n")

w("## How to run\n")
w("```sh\nbenches/run.sh            # everything above, rewrites this file\n"
  "benches/run.sh --quick    # smoke run (CI), writes target/bench/BENCHMARKS.quick.md\n```\n")
open(report, "w").write("\n".join(out))
