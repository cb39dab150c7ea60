#!/usr/bin/env bash
# Run one libFuzzer target for a bounded number of inputs, starting from the committed seeds.
# Usage: tests/fuzz/run-fuzzer.sh BINARY SEED_DIR WORK_DIR [RUNS]
# The working corpus lives in WORK_DIR (build tree), never in the source tree. A crash,
# a leak, a UBSan report or a timeout fails the run; the reproducer is left in WORK_DIR.
set -euo pipefail
bin=$1 seeds=$2 work=$3 runs=${4:-100000}
mkdir -p "$work/corpus" "$work/artifacts"
cp -n "$seeds"/* "$work/corpus/" 2>/dev/null || true
exec "$bin" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$work/artifacts/" -print_final_stats=1 "$work/corpus"
