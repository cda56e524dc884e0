#!/usr/bin/env bash
# Long crash soak: the crash test (tests/it/crash.rs) with many more SIGKILLs, one seed per round.
#   tools/crash_soak.sh [KILLS_PER_ROUND=50] [ROUNDS=4] [FIRST_SEED=1]
# Each round kills the real ingest KILLS_PER_ROUND times at random moments, resumes it, and
# requires byte-identical exports and equal counters versus an uninterrupted run.
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-50}; rounds=${2:-4}; seed=${3:-1}
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked --tests -q
total=0
for ((r = 0; r < rounds; r++)); do
  s=$((seed + r))
  XFSTORE_CRASH_KILLS=$kills XFSTORE_CRASH_SEED=$s \
    cargo test --release --locked -q --test it crash:: -- --nocapture 2>&1 | grep -E "crash test:|panicked|FAILED|test result" 
  total=$((total + kills))
done
echo "soak: $rounds rounds, $total SIGKILLs in all, zero differences"
