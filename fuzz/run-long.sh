#!/usr/bin/env bash
# The long fuzz runs: each target for $1 seconds (default 600), one after
# another, with the seeds and the corpus grown so far. Needs cargo-fuzz
# (`cargo install cargo-fuzz`); RUSTC_BOOTSTRAP lets stable Rust take the
# nightly flags libFuzzer needs. Logs go to fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
mkdir -p fuzz/logs
for target in headers requests derive; do
    mkdir -p "fuzz/corpus/$target"
    RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -a "$target" \
        "fuzz/corpus/$target" "fuzz/seeds/$target" \
        -- -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 \
        2>&1 | tee "fuzz/logs/$target.log" | grep -E "^(Done|#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+== ERROR|SUMMARY)" || true
done
